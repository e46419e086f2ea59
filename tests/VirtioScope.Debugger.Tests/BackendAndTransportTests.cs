using VirtioScope.Debugger;
using VirtioScope.Images;

namespace VirtioScope.Debugger.Tests;

public sealed class BackendAndTransportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vscope-dbg-img-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_qcow2_request_shows_where_its_sectors_live()
    {
        string path = Path.Combine(_dir, "disk.qcow2");
        using (IDiskImage image = DiskImage.Create(path, new ImageCreateOptions { Format = ImageFormat.Qcow2, Size = 4 << 20 }))
        {
            byte[] data = new byte[4096];
            Array.Fill(data, (byte)0x42);
            image.Write(0, data);
        }
        using DebugSession s = DebugSession.Open(Sessions.Small("seqread") with { ImagePath = path, QueueDepth = 1 });
        s.Next();
        BackendView first = s.Backend();
        Assert.Equal("qcow2", first.Format);
        Assert.Equal(4L << 20, first.VirtualSize);
        Assert.Equal("queue 0 id 0: sectors 0-7", first.Request);
        SectorLocation l = Assert.Single(first.Locations);
        Assert.StartsWith("data at host offset 0x", l.Where);
        s.Next(15);
        Assert.StartsWith("data at host offset 0x", Assert.Single(s.Backend().Locations).Where);
        s.Next();
        BackendView second = s.Backend();
        // The written 4 KiB allocated the whole first 64 KiB cluster; the next cluster was never written.
        Assert.EndsWith("sectors 128-135", second.Request);
        Assert.Equal("unallocated (reads as zero)", Assert.Single(second.Locations).Where);
    }

    [Fact]
    public void Write_only_registers_show_their_last_written_value()
    {
        using DebugSession s = Sessions.Open();
        RegisterRow Row(string name) => s.Snapshot().Registers.Single(r => r.Name == name);
        Assert.Equal("never written", Row("QueueNotify").Decoded);
        s.AddBreakpoint(["notify", "0"]);
        s.Continue();
        Assert.Equal("last written", Row("QueueNotify").Decoded);
        Assert.Equal(0UL, Row("QueueNotify").Value);
        Assert.Equal(1UL, Row("DriverFeaturesSel").Value);
    }

    [Fact]
    public void The_legacy_transport_shows_page_size_pfn_and_split_rings()
    {
        using DebugSession s = DebugSession.Open(Sessions.Small() with { Legacy = true });
        s.Next(3);
        DeviceSnapshot snap = s.Snapshot();
        Assert.Equal("1", snap.Registers.Single(r => r.Name == "Version").Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains(snap.Registers, r => r.Name == "QueuePFN" && r.Value != 0);
        Assert.Equal(4096UL, snap.Registers.Single(r => r.Name == "GuestPageSize").Value);
        Assert.DoesNotContain(snap.Registers, r => r.Name == "QueueReady");
        Assert.Equal("split", snap.Queues[0].Format);
        Assert.Equal("ACKNOWLEDGE|DRIVER|DRIVER_OK", snap.Status);
    }

    [Fact]
    public void Multiple_queues_each_have_their_own_state()
    {
        using DebugSession s = DebugSession.Open(Sessions.Small() with { Queues = 2 });
        s.Next(20);
        DeviceSnapshot snap = s.Snapshot();
        Assert.Equal(2, snap.Queues.Count);
        Assert.All(snap.Queues, q => Assert.True(q.AvailIdx > 0));
        CommandResult r = new CommandInterpreter(s).Execute("queue 1");
        Assert.Equal(1, Assert.IsType<QueueSnapshot>(r.Data).Index);
    }
}
