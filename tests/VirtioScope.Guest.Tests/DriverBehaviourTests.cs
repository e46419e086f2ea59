using VirtioScope.Block;
using VirtioScope.Guest.Workloads;
using VirtioScope.Memory;
using VirtioScope.Virtio;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Guest.Tests;

public sealed class DriverBehaviourTests
{
    private sealed class Collector : IBlkCompletionHandler
    {
        public List<BlkCompletion> Done { get; } = [];
        public List<byte[]> Data { get; } = [];

        public void OnCompleted(in BlkCompletion completion, ReadOnlySpan<byte> data)
        {
            Done.Add(completion);
            Data.Add(data.ToArray());
        }
    }

    [Fact]
    public void MultiQueueSpreadsRequestsOverEveryQueue()
    {
        using var rig = new GuestRig(new GuestDriverOptions { QueueCount = 4, QueueDepth = 8 }, new BlockDeviceOptions { NumQueues = 4 });
        rig.Guest.Initialize();
        Assert.Equal(4, rig.Guest.Queues.Count);
        WorkloadResult r = WorkloadRunner.Run(rig.Guest, new WorkloadOptions { Name = "randrw", Requests = 2000, QueueDepth = 8, Verify = true, AssumeZeroedMedium = true });
        Assert.Equal(0, r.VerifyFailures);
        Assert.Equal(0, r.ErrorsByStatus.Errors);
        Assert.All(rig.Guest.Queues, q => Assert.True(q.Notifications > 0, $"queue {q.Index} was never used"));
    }

    [Fact]
    public void PackedRingsNeedNotBeAPowerOfTwo()
    {
        using var rig = new GuestRig(new GuestDriverOptions { UsePacked = true, QueueSize = 100, QueueDepth = 30, SegmentBytes = 1024 });
        rig.Guest.Initialize();
        Assert.Equal(100, rig.Guest.Queues[0].Size);
        WorkloadResult r = WorkloadRunner.Run(rig.Guest, new WorkloadOptions { Name = "randrw", Requests = 3000, QueueDepth = 30, Verify = true, AssumeZeroedMedium = true });
        Assert.Equal(0, r.ErrorsByStatus.Errors);
        Assert.Equal(0, r.VerifyFailures);
        Assert.True(r.Verified > 1000);
    }

    [Fact]
    public void SplitRingSizeMustBeAPowerOfTwo()
    {
        using GuestMemory memory = GuestMemory.Create();
        var e = Assert.Throws<ArgumentException>(() => new VirtioBlkGuest(new FakeMmio(), memory, new GuestDriverOptions { QueueSize = 100, QueueDepth = 30 }));
        Assert.Contains("power of two", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WritebackCanBeSwitchedWhenConfigWceIsNegotiated()
    {
        using var rig = new GuestRig();
        rig.Guest.Initialize();
        Assert.False(rig.Guest.SetWriteback(false));
        Assert.Equal(0, rig.Guest.Config.Writeback);
        Assert.True(rig.Guest.SetWriteback(true));
        var device = new BlockDeviceOptions { Features = BlockDeviceOptions.SupportedFeatures & ~BlkFeatures.ConfigWce & ~BlkFeatures.ReadOnly };
        using var plain = new GuestRig(deviceOptions: device);
        plain.Guest.Initialize();
        Assert.Throws<InvalidOperationException>(() => plain.Guest.SetWriteback(true));
    }

    [Theory]
    [InlineData(0, 100)]
    [InlineData(4, 160)]
    public void FlushWorkloadFlushesAfterWrites(int flushEvery, long expectedWrites)
    {
        using var rig = new GuestRig();
        WorkloadResult r = WorkloadRunner.Run(rig.Guest, new WorkloadOptions { Name = "flush", Requests = 200, FlushEvery = flushEvery });
        Assert.Equal(0, r.ErrorsByStatus.Errors);
        Assert.Equal(200, r.Requests);
        // Every request is a 4 KiB write or a FLUSH: after each write by default, after every fourth with FlushEvery 4.
        Assert.Equal(expectedWrites, r.BytesWritten / 4096);
    }

    [Fact]
    public void WithoutMqOneQueueIsUsed()
    {
        var device = new BlockDeviceOptions { Features = BlockDeviceOptions.SupportedFeatures & ~BlkFeatures.Mq & ~BlkFeatures.ReadOnly, NumQueues = 1 };
        using var rig = new GuestRig(new GuestDriverOptions { QueueCount = 4 }, device);
        rig.Guest.Initialize();
        Assert.Single(rig.Guest.Queues);
        Assert.Equal(0UL, rig.Guest.NegotiatedFeatures & BlkFeatures.Mq);
    }

    [Fact]
    public void GetIdReturnsTheSerialPaddedWithNuls()
    {
        using var rig = new GuestRig(deviceOptions: new BlockDeviceOptions { Serial = "vscope-42" });
        rig.Guest.Initialize();
        BlkQueue q = rig.Guest.Queues[0];
        int slot = q.TryReserve();
        Assert.True(q.SubmitGetId(slot, 9));
        q.Kick();
        var c = new Collector();
        Assert.Equal(1, q.ProcessCompletions(c));
        Assert.True(c.Done[0].IsOk);
        Assert.Equal(20, c.Data[0].Length);
        Assert.Equal("vscope-42"u8.ToArray(), c.Data[0][..9]);
        Assert.All(c.Data[0][9..], b => Assert.Equal(0, b));
    }

    [Fact]
    public void ResetAbortsRequestsInFlightAndTheDriverCarriesOn()
    {
        using var rig = new GuestRig();
        rig.Guest.Initialize();
        BlkQueue q = rig.Guest.Queues[0];
        // Published but never kicked: the device has not seen them when the reset comes.
        Assert.True(q.TrySubmitRead(0, 4096, 1));
        Assert.True(q.TrySubmitRead(8, 4096, 2));
        rig.Guest.Reset();
        var c = new Collector();
        Assert.Equal(2, rig.Guest.ProcessCompletions(c));
        Assert.All(c.Done, d => Assert.True(d.Aborted));
        Assert.Equal(q.Depth, q.FreeSlots);
        rig.Guest.Initialize();
        Assert.True(q.TrySubmitRead(0, 4096, 3));
        q.Kick();
        Assert.Equal(1, q.ProcessCompletions(c));
        Assert.True(c.Done[2].IsOk);
    }

    [Fact]
    public void DriverRefusesRequestsTheSpecForbids()
    {
        var device = new BlockDeviceOptions { Features = BlockDeviceOptions.SupportedFeatures & ~BlkFeatures.Flush & ~BlkFeatures.ReadOnly };
        using var rig = new GuestRig(deviceOptions: device, diskBytes: 1 << 20);
        rig.Guest.Initialize();
        BlkQueue q = rig.Guest.Queues[0];
        int slot = q.TryReserve();
        Assert.Throws<InvalidOperationException>(() => q.SubmitFlush(slot, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => q.SubmitRead(slot, 2047, 1024, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => q.SubmitRead(slot, 0, 1000, 0));
        Assert.Throws<ArgumentException>(() => q.SubmitDiscard(slot, [new BlkSegment(0, 8, BlkLayout.SegmentFlagUnmap)], 0));
        q.Release(slot);
        Assert.Throws<InvalidOperationException>(() => q.SubmitRead(slot, 0, 512, 0));
        var e = Assert.Throws<GuestDriverException>(() => WorkloadRunner.Run(rig.Guest, new WorkloadOptions { Name = "flush", Requests = 10 }));
        Assert.Contains("VIRTIO_BLK_F_FLUSH", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SegmentsFollowSizeMaxAndSegMax()
    {
        using var rig = new GuestRig(new GuestDriverOptions { SegmentBytes = 8192 }, new BlockDeviceOptions { SizeMax = 1024, SegMax = 4 });
        rig.Guest.Initialize();
        BlkQueue q = rig.Guest.Queues[0];
        // size_max 1024 caps each segment: 4 KiB is exactly seg_max segments, 4.5 KiB one too many.
        Assert.True(q.TrySubmitRead(0, 4096, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => q.TrySubmitRead(0, 4608, 2));
        q.Kick();
        var c = new Collector();
        Assert.Equal(1, q.ProcessCompletions(c));
        Assert.True(c.Done[0].IsOk);
        Assert.Equal(q.Depth, q.FreeSlots);
    }

    [Fact]
    public void ReadOnlyDeviceRefusesWritesAndAnswersHostileOnesWithIoErr()
    {
        using var rig = new GuestRig(readOnly: true);
        rig.Guest.Initialize();
        Assert.NotEqual(0UL, rig.Guest.NegotiatedFeatures & BlkFeatures.ReadOnly);
        BlkQueue q = rig.Guest.Queues[0];
        int slot = q.TryReserve();
        Assert.Throws<InvalidOperationException>(() => q.SubmitWrite(slot, 0, 512, 0));
        q.Release(slot);
        Assert.Throws<GuestDriverException>(() => WorkloadRunner.Run(rig.Guest, new WorkloadOptions { Name = "seqwrite", Requests = 10 }));
        WorkloadResult r = WorkloadRunner.Run(rig.Guest, new WorkloadOptions { Name = "hostile", Requests = 2000, QueueDepth = 8 });
        HostileCaseResult ro = r.HostileCases.Single(c => c.Name == "WriteToReadOnly");
        Assert.True(ro.Injected > 0);
        Assert.Equal(ro.Injected, ro.IoErr);
        Assert.Equal(0, r.BytesWritten);
    }

    [Fact]
    public void VerifyCatchesCorruptedData()
    {
        using GuestMemory memory = GuestMemory.Create(GuestMemory.DefaultBase, 16 << 20);
        var backend = new CorruptingBackend(4 << 20) { CorruptOffset = (5 * 4096) + 100 };
        var transport = new MmioTransport(new BlockDevice(backend), memory.CreateView());
        using var guest = new VirtioBlkGuest(transport, memory.CreateView(), new GuestDriverOptions());
        transport.InterruptRaised = guest.OnInterrupt;
        WorkloadResult r = WorkloadRunner.Run(guest, new WorkloadOptions { Name = "seqwrite", Requests = 64, Verify = true });
        Assert.Equal(64, r.Verified);
        Assert.Equal(1, r.VerifyFailures);
        Assert.Contains("block at byte 20480 is corrupt", r.VerifyFailureMessages[0], StringComparison.Ordinal);
        backend.Dispose();
    }

    [Fact]
    public void VerifyCatchesNonZeroNeverWrittenBlocksOnAZeroedMedium()
    {
        using var rig = new GuestRig(diskBytes: 1 << 20);
        rig.Backend.Contents[4096 * 3] = 1;
        WorkloadResult r = WorkloadRunner.Run(rig.Guest, new WorkloadOptions { Name = "seqread", Requests = 256, Verify = true, AssumeZeroedMedium = true });
        Assert.Equal(256, r.Verified);
        Assert.Equal(1, r.VerifyFailures);
        WorkloadResult unknown = WorkloadRunner.Run(rig.Guest, new WorkloadOptions { Name = "seqread", Requests = 256, Verify = true });
        Assert.Equal(0, unknown.Verified);
    }

    [Fact]
    public void RunsAreDeterministicForASeed()
    {
        byte[] Run(ulong seed, out WorkloadResult r)
        {
            using var rig = new GuestRig(diskBytes: 2 << 20);
            r = WorkloadRunner.Run(rig.Guest, new WorkloadOptions { Name = "randrw", Requests = 3000, Seed = seed, QueueDepth = 32, Verify = true, AssumeZeroedMedium = true });
            return rig.Backend.Contents.ToArray();
        }
        byte[] a = Run(11, out WorkloadResult ra);
        byte[] b = Run(11, out WorkloadResult rb);
        byte[] c = Run(12, out _);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(ra.BytesRead, rb.BytesRead);
        Assert.Equal(ra.Verified, rb.Verified);
        Assert.Equal(ra.Notifications, rb.Notifications);
    }

    [Fact]
    public void HostileAvailJumpMakesTheDeviceNeedAResetAndTheGuestRecovers()
    {
        using var rig = new GuestRig(new GuestDriverOptions { QueueSize = 64, QueueDepth = 16 });
        WorkloadResult r = WorkloadRunner.Run(rig.Guest, new WorkloadOptions { Name = "hostile", Requests = 1000, QueueDepth = 16, Verify = true, AssumeZeroedMedium = true });
        HostileCaseResult jump = r.HostileCases.Single(c => c.Name == "AvailIdxJump");
        Assert.True(jump.Injected > 0);
        Assert.Equal(jump.Injected, jump.NeedsReset);
        Assert.True(r.DeviceResets >= jump.Injected);
        Assert.Equal(0, r.VerifyFailures);
        Assert.True(r.ErrorsByStatus.Ok > 500);
        Assert.True(rig.Guest.IsInitialized);
    }

    [Fact]
    public void ConfigChangeInterruptIsNotedAndConfigCanBeReread()
    {
        using var rig = new GuestRig();
        rig.Guest.Initialize();
        rig.Transport.NotifyConfigChanged();
        Assert.True(rig.Guest.ConfigChanged);
        Assert.False(rig.Guest.NeedsReset);
        Assert.Equal(rig.Guest.Config, rig.Guest.RereadConfig());
        Assert.False(rig.Guest.ConfigChanged);
        Assert.True(rig.Guest.ConfigInterrupts >= 1);
    }

    [Fact]
    public void DeviceStatusAfterInitIsDriverOk()
    {
        using var rig = new GuestRig(version: MmioVersion.Legacy);
        rig.Guest.Initialize();
        Assert.Equal(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.DriverOk, rig.Transport.Status);
        using var modern = new GuestRig(new GuestDriverOptions { UsePacked = true });
        modern.Guest.Initialize();
        Assert.Equal(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk | DeviceStatus.DriverOk, modern.Transport.Status);
        Assert.NotEqual(0UL, modern.Transport.NegotiatedFeatures & VirtioFeatures.RingPacked);
    }
}
