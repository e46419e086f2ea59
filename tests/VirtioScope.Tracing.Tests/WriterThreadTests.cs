using VirtioScope.Tracing.Format;

namespace VirtioScope.Tracing.Tests;

/// <summary>The trace writer's writing thread: order, bounded hand-over, and errors brought back to the recorder.</summary>
public class WriterThreadTests
{
    /// <summary>A stream that accepts the file header, then fails every write (a full disk).</summary>
    private sealed class FullDisk(int room) : MemoryStream
    {
        public override void Write(ReadOnlySpan<byte> buffer) => Write(buffer.ToArray(), 0, buffer.Length);

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (Length + count > room)
            {
                throw new IOException("No space left on device");
            }
            base.Write(buffer, offset, count);
        }
    }

    [Fact]
    public void Many_chunks_written_by_the_writing_thread_read_back_in_order()
    {
        var stream = new MemoryStream();
        using (var w = new TraceWriter(stream, new TraceHeader(), chunkTarget: 64))
        {
            for (uint i = 0; i < 20_000; i++)
            {
                w.Mmio(i % 2 == 0, i % 0x100, 4, i);
            }
        }
        using TraceReader r = TraceReader.Open(new MemoryStream(stream.ToArray()));
        Assert.True(r.IsComplete);
        Assert.True(r.ChunkCount > ChunkSink.MaxQueued * 10);
        Assert.Equal(20_000, r.EventCount);
        Assert.Equal(Enumerable.Range(0, 20_000).Select(i => (ulong)i), r.Events().Select(e => e.Value));
    }

    [Fact]
    public void A_write_error_on_the_writing_thread_reaches_the_recorder()
    {
        var disk = new FullDisk(room: 4096);
        var w = new TraceWriter(disk, new TraceHeader(), chunkTarget: 64);
        IOException e = Assert.Throws<IOException>(() =>
        {
            for (uint i = 0; i < 1_000_000; i++)
            {
                w.Interrupt(i);
            }
            w.Complete();
        });
        Assert.Contains("No space left on device", e.Message, StringComparison.Ordinal);
        // What reached the file before the error still reads as a cut trace.
        using TraceReader r = TraceReader.Open(new MemoryStream(disk.ToArray()));
        Assert.False(r.IsComplete);
        Assert.True(r.EventCount > 0);
        Assert.Equal(Enumerable.Range(0, (int)r.EventCount).Select(i => (ulong)i), r.Events().Select(x => x.Value));
    }
}
