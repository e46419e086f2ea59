using System.Security.Cryptography;
using VirtioScope.Debugger;
using VirtioScope.Debugger.Sources;

namespace VirtioScope.Debugger.Tests;

public sealed class OverlayAndComposeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vscope-dbg-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string RawImage()
    {
        string path = Path.Combine(_dir, "disk.img");
        byte[] data = new byte[1 << 20];
        new Random(3).NextBytes(data);
        File.WriteAllBytes(path, data);
        return path;
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    [Fact]
    public void The_image_is_unchanged_after_a_session_that_wrote()
    {
        string image = RawImage();
        string before = Hash(image);
        using (DebugSession s = DebugSession.Open(Sessions.Small("randwrite") with { ImagePath = image }))
        {
            s.Next(50);
            BackendView b = s.Backend();
            Assert.Equal("raw", b.Format);
            Assert.StartsWith("overlay", b.Writes);
            Assert.True(b.OverlayChunks > 0);
            Assert.Contains(b.Locations, l => l.Where.StartsWith("session overlay", StringComparison.Ordinal));
        }
        Assert.Equal(before, Hash(image));
    }

    [Fact]
    public void With_rw_the_writes_reach_the_image_and_back_is_refused()
    {
        string image = RawImage();
        string before = Hash(image);
        using (DebugSession s = DebugSession.Open(Sessions.Small("randwrite") with { ImagePath = image, WriteThroughToImage = true }))
        {
            s.Next(50);
            CommandResult r = new CommandInterpreter(s).Execute("back 1");
            Assert.False(r.Ok);
            Assert.Contains("--rw", r.Error);
        }
        Assert.NotEqual(before, Hash(image));
    }

    [Fact]
    public void Overlay_reads_return_what_was_written_and_the_base_elsewhere()
    {
        string image = RawImage();
        byte[] original = File.ReadAllBytes(image);
        using var overlay = new Backend.OverlayBackend(new VirtioScope.Images.ImageBlockBackend(VirtioScope.Images.DiskImage.Open(image, new VirtioScope.Images.ImageOpenOptions { ReadOnly = true })), readOnly: false);
        overlay.Write(1000, new byte[] { 1, 2, 3 });
        overlay.WriteZeroes(8192, 8192, Block.ZeroingMode.MayUnmap);
        byte[] read = new byte[20000];
        overlay.Read(0, read);
        Assert.Equal(original.AsSpan(0, 1000).ToArray(), read.AsSpan(0, 1000).ToArray());
        Assert.Equal(new byte[] { 1, 2, 3 }, read.AsSpan(1000, 3).ToArray());
        Assert.Equal(original.AsSpan(1003, 8192 - 1003).ToArray(), read.AsSpan(1003, 8192 - 1003).ToArray());
        Assert.All(read.AsSpan(8192, 8192).ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(original.AsSpan(16384, 20000 - 16384).ToArray(), read.AsSpan(16384, 20000 - 16384).ToArray());
    }

    [Fact]
    public void A_composed_write_is_submitted_next_and_survives_back_stepping()
    {
        using DebugSession s = Sessions.Open();
        var c = new CommandInterpreter(s);
        Sessions.Run(c, "next 3", "compose write 64 8 0x5a", "break type out", "continue");
        Assert.Contains("type out", s.StopReason);
        long at = s.Position;
        Sessions.Run(c, "next");
        RequestView r = s.Request()!;
        Assert.Equal("out", r.Type);
        Assert.Equal(64UL, r.Sector);
        Assert.Equal(4096U, r.DataBytes);
        Assert.Contains(r.Descriptors, d => d.Hex.Any(h => h.EndsWith("5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a", StringComparison.Ordinal)));
        Sessions.Run(c, "step");
        Assert.False(s.InsideAccess);
        string fingerprint = s.StateFingerprint();
        long pos = s.Position;
        Sessions.Run(c, "back 40", "delete all");
        Assert.True(s.Position < at);
        s.Step(pos - s.Position);
        Assert.Equal(fingerprint, s.StateFingerprint());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_composed_request_is_the_very_next_request_the_guest_submits(bool packed)
    {
        // Rounds of the workload hold 1024 requests; composing after 3 must not wait for the round to end.
        using DebugSession s = DebugSession.Open(Sessions.Small() with { Packed = packed });
        var c = new CommandInterpreter(s);
        Sessions.Run(c, "next 3");
        long composedAt = s.EventCount;
        Sessions.Run(c, "compose write 64 8 0x5a", "break type out", "continue");
        Assert.Contains("type out", s.StopReason);
        Assert.True(s.Completions < 20, $"the composed write came after {s.Completions} completions");
        // Every request the device parsed between composing and the composed write was already in flight then.
        List<Virtio.Events.RequestParsedEvent> since = s.Events((int)(s.EventCount - composedAt))
            .Select(e => e.Event).OfType<Virtio.Events.RequestParsedEvent>().ToList();
        Assert.Equal("Out", since[^1].Type);
        Assert.Equal(64UL, since[^1].Sector);
        Assert.All(since.Take(since.Count - 1), e => Assert.Equal("In", e.Type));
        Assert.True(since.Count - 1 <= Sessions.Small().QueueDepth, $"{since.Count - 1} requests were parsed before the composed one");
    }

    [Fact]
    public void Compose_checks_its_request()
    {
        using DebugSession s = Sessions.Open();
        Assert.Throws<CommandException>(() => s.Compose(new ComposedRequest(Block.BlkRequestType.In, 0, 1000, 0, 0)));
        Assert.Throws<CommandException>(() => s.Compose(new ComposedRequest(Block.BlkRequestType.In, 0, 8, 0, 3)));
        Assert.Equal(0, s.PendingComposed);
        s.Compose(new ComposedRequest(Block.BlkRequestType.Flush, 0, 0, 0, 0));
        Assert.Equal(1, s.PendingComposed);
    }
}
