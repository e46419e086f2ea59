using VirtioScope.Block;
using VirtioScope.Testing;

namespace VirtioScope.VhostUser.Tests;

/// <summary>
/// A real guest's request is many scattered 4 KiB pages. For backends whose calls are system calls the device moves
/// it in one call through a bounce buffer; the bytes must land exactly as segment-by-segment copying would put them.
/// </summary>
public sealed class CoalescingTests
{
    private sealed class CountingBackend(IBlockBackend inner) : IBlockBackend
    {
        public int Reads;
        public int Writes;

        public long Size => inner.Size;

        public bool IsReadOnly => inner.IsReadOnly;

        public BlockCapabilities Capabilities => inner.Capabilities | BlockCapabilities.CoalesceSegments;

        public void Read(long offset, Span<byte> destination)
        {
            Reads++;
            inner.Read(offset, destination);
        }

        public void Write(long offset, ReadOnlySpan<byte> source)
        {
            Writes++;
            inner.Write(offset, source);
        }

        public void Flush() => inner.Flush();

        public void Discard(long offset, long length) => inner.Discard(offset, length);

        public void WriteZeroes(long offset, long length, ZeroingMode mode) => inner.WriteZeroes(offset, length, mode);

        public void Dispose()
        {
        }
    }

    [Fact]
    public void ScatteredSegmentsMoveInOneBackendCallEachWay()
    {
        CountingBackend? counting = null;
        using var server = new ServerFixture(wrap: b => counting = new CountingBackend(b));
        using var fe = new Frontend(server);
        var ring = new MockSplitRing(fe.Guest.Memory, Frontend.RingBase, 16);
        Assert.Equal(0UL, fe.StartRing(0, ring.Layout));

        // Eight 4 KiB pages, out of order in guest memory, written as one 32 KiB request at sector 16.
        ulong header = Frontend.DataBase, status = Frontend.DataBase + 16;
        ulong[] pages = [.. new[] { 5, 2, 7, 0, 3, 6, 1, 4 }.Select(i => Frontend.DataBase + 0x1000 + (ulong)i * 0x1000)];
        byte[] data = new byte[8 * 4096];
        new Random(3).NextBytes(data);
        for (int i = 0; i < 8; i++)
        {
            fe.Guest.Memory.Write(pages[i], data.AsSpan(i * 4096, 4096));
        }
        fe.Header(header, BlkRequestType.Out, 16);
        ring.Publish(ring.WriteChain([new Buf(header, 16), .. pages.Select(p => new Buf(p, 4096)), new Buf(status, 1, Write: true)]));
        ring.SetUsedEvent(ring.UsedIdx);
        fe.Kicks[0].Signal();
        Assert.True(fe.Calls[0].Wait());
        Assert.Equal(0, fe.Guest.Memory.ReadSpan(status, 1)[0]);
        Assert.Equal(data, server.Disk.Contents.Slice(16 * 512, data.Length).ToArray());
        Assert.Equal(1, counting!.Writes);

        // Read it back into other scattered pages.
        ulong[] back = [.. new[] { 3, 0, 6, 1, 7, 4, 2, 5 }.Select(i => Frontend.DataBase + 0x20000 + (ulong)i * 0x1000)];
        fe.Header(header, BlkRequestType.In, 16);
        ring.Publish(ring.WriteChain([new Buf(header, 16), .. back.Select(p => new Buf(p, 4096, Write: true)), new Buf(status, 1, Write: true)]));
        ring.SetUsedEvent(ring.UsedIdx);
        fe.Kicks[0].Signal();
        Assert.True(fe.Calls[0].Wait());
        Assert.Equal(0, fe.Guest.Memory.ReadSpan(status, 1)[0]);
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(data.AsSpan(i * 4096, 4096).ToArray(), fe.Guest.Memory.ReadSpan(back[i], 4096).ToArray());
        }
        Assert.Equal(1, counting.Reads);
        Assert.Equal(8u * 4096 + 1, ring.Used(1).Len);
    }
}
