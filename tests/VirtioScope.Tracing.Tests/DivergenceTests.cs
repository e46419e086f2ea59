using VirtioScope.Block;
using VirtioScope.Images;
using VirtioScope.Tracing.Format;
using VirtioScope.Tracing.Recording;
using VirtioScope.Tracing.Replay;
using VirtioScope.Virtio;
using VirtioScope.Virtio.Queues;

namespace VirtioScope.Tracing.Tests;

public class DivergenceTests
{
    private static MemoryBackend Patterned()
    {
        var b = new MemoryBackend(TraceRig.DiskSize);
        new Random(3).NextBytes(b.Contents);
        return b;
    }

    private static byte[] RecordOverPattern(string workload = "randread")
    {
        using MemoryBackend b = Patterned();
        return TraceRig.Record(TraceRig.Options(workload, requests: 60) with { Backend = new BackendInfo { Kind = "image", Format = "raw", VirtualSize = TraceRig.DiskSize } }, b);
    }

    [Fact]
    public void Identical_content_replays_identically()
    {
        byte[] trace = RecordOverPattern();
        ReplayResult r = TraceRig.Replay(trace, Patterned());
        Assert.Null(r.Divergence);
    }

    [Fact]
    public void One_changed_byte_in_the_image_is_reported_at_the_first_read_of_it()
    {
        byte[] trace = RecordOverPattern();
        using TraceReader reader = TraceRig.Open(trace);
        TraceEvent fifthRead = reader.Events().Where(e => e.Kind == RecordKind.BackendIo && e.Code == (byte)BackendOp.Read).ElementAt(4);
        long changed = (long)fifthRead.Address + 100;
        long expected = reader.Events().First(e => e.Kind == RecordKind.BackendIo && e.Code == (byte)BackendOp.Read
            && (long)e.Address <= changed && changed < (long)e.Address + e.Length).Number;
        MemoryBackend b = Patterned();
        b.Contents[(int)changed] ^= 0x01;
        ReplayResult r = TraceRig.Replay(trace, b);
        Assert.NotNull(r.Divergence);
        Assert.Equal(expected, r.Divergence.EventNumber);
        Assert.Equal("backend data differs", r.Divergence.Reason);
        Assert.Equal(RecordKind.Request, r.Divergence.Request?.Kind);
        Assert.NotEmpty(r.Divergence.Before);
        Assert.Contains($"first divergence at event #{expected}", r.Divergence.ToText());
    }

    [Fact]
    public void A_changed_device_option_is_reported_at_the_first_register_read_it_changes()
    {
        byte[] trace = TraceRig.Record(TraceRig.Options("randread"));
        using TraceReader reader = TraceRig.Open(trace);
        long expected = reader.Events().First(e => e.Kind == RecordKind.MmioRead && e.Address == MmioRegisters.QueueNumMax).Number;
        ReplayResult r = TraceRig.Replay(trace, options: new ReplayOptions
        {
            Verify = true,
            DeviceOptions = reader.Header.Device! with { MaxQueueSize = 128 },
        });
        Assert.Equal(expected, r.Divergence?.EventNumber);
        Assert.Equal(0x100UL, r.Divergence!.Expected!.Value.Value);
        Assert.Equal(0x80UL, r.Divergence.Actual!.Value.Value);
    }

    [Fact]
    public void A_device_that_ignores_a_notification_is_reported_right_after_it()
    {
        byte[] trace = TraceRig.Record(TraceRig.Options("randwrite"));
        using TraceReader reader = TraceRig.Open(trace);
        long third = reader.Events().Where(e => e.Kind == RecordKind.MmioWrite && e.Address == MmioRegisters.QueueNotify).ElementAt(2).Number;
        ReplayResult r = TraceRig.Replay(trace, options: new ReplayOptions
        {
            Verify = true,
            DeviceFactory = (backend, options) => new ForgetfulDevice(new BlockDevice(backend, options), forget: 3),
        });
        Assert.Equal(third + 1, r.Divergence?.EventNumber);
        Assert.Equal(RecordKind.GuestRead, r.Divergence!.Expected!.Value.Kind);
    }

    [Fact]
    public void Image_backend_record_and_replay_is_identical_and_leaves_the_image_alone()
    {
        string path = Path.Combine(Path.GetTempPath(), $"vstrace-{Guid.NewGuid():n}.raw");
        try
        {
            byte[] content = new byte[TraceRig.DiskSize];
            new Random(5).NextBytes(content);
            File.WriteAllBytes(path, content);
            byte[] trace;
            using (ImageBlockBackend image = ImageBlockBackend.Open(path))
            {
                trace = TraceRig.Record(TraceRig.Options("randrw", requests: 60) with { Backend = new BackendInfo { Kind = "image", Format = "raw", Path = path, VirtualSize = TraceRig.DiskSize } }, image);
            }
            File.WriteAllBytes(path, content);
            ReplayResult r = TraceRig.Replay(trace, new ProtectedBackend(ImageBlockBackend.Open(path, new ImageOpenOptions { ReadOnly = true }), readOnly: false));
            Assert.True(r.Divergence is null, r.Divergence?.ToText());
            Assert.Equal(content, File.ReadAllBytes(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Replay_until_stops_at_the_given_event()
    {
        byte[] trace = TraceRig.Record(TraceRig.Options("randread"));
        ReplayResult r = TraceRig.Replay(trace, options: new ReplayOptions { Verify = true, Until = 200 });
        Assert.Null(r.Divergence);
        Assert.InRange(r.Events, 150, 400);
    }

    [Fact]
    public void Diff_of_two_recordings_finds_the_first_difference()
    {
        byte[] a = TraceRig.Record(TraceRig.Options("randread", seed: 1));
        byte[] b = TraceRig.Record(TraceRig.Options("randread", seed: 1));
        byte[] c = TraceRig.Record(TraceRig.Options("randread", seed: 2));
        using TraceReader ra = TraceRig.Open(a), rb = TraceRig.Open(b), rc = TraceRig.Open(c);
        Assert.Null(Analysis.TraceDiff.Compare(ra, rb));
        Divergence? d = Analysis.TraceDiff.Compare(ra, rc);
        Assert.NotNull(d);
        long first = ra.Events().Zip(rc.Events()).First(p => EventComparer.Difference(p.First, p.Second) is not null).First.Number;
        Assert.Equal(first, d.EventNumber);
    }

    [Fact]
    public void A_register_level_trace_cannot_be_replayed()
    {
        var stream = new MemoryStream();
        using (var w = new TraceWriter(stream, new TraceHeader { Source = "qemu-log", Replayable = false }))
        {
            w.MmioReadUnvalued(0, 4);
        }
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => TraceRig.Replay(stream.ToArray(), new MemoryBackend(4096)));
        Assert.Contains("register-level", e.Message);
    }

    /// <summary>A device change injected for the test: it ignores its Nth notification.</summary>
    private sealed class ForgetfulDevice(IVirtioDevice inner, int forget) : IVirtioDevice
    {
        private int _calls;

        public uint DeviceId => inner.DeviceId;

        public ulong OfferedFeatures => inner.OfferedFeatures;

        public int QueueCount => inner.QueueCount;

        public ushort MaxQueueSize => inner.MaxQueueSize;

        public int ConfigLength => inner.ConfigLength;

        public void ReadConfig(int offset, Span<byte> data) => inner.ReadConfig(offset, data);

        public void WriteConfig(int offset, ReadOnlySpan<byte> data) => inner.WriteConfig(offset, data);

        public string? RefuseFeatures(ulong features) => inner.RefuseFeatures(features);

        public void Activate(IDeviceContext context) => inner.Activate(context);

        public void ProcessQueue(int index)
        {
            if (++_calls != forget)
            {
                inner.ProcessQueue(index);
            }
        }

        public void Reset() => inner.Reset();
    }
}
