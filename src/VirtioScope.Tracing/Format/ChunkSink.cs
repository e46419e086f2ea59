using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.IO.Hashing;
using ZstdSharp;

namespace VirtioScope.Tracing.Format;

/// <summary>
/// Compresses and writes a trace's chunks on a thread of its own, so the recording thread only encodes records. The
/// recording thread hands over a filled chunk buffer and takes an empty one; at most <see cref="MaxQueued"/> chunks
/// wait, so memory stays bounded (a recorder faster than the disk waits for a free buffer). Buffers are reused.
/// An I/O error on the writing thread surfaces on the recording thread at the next hand-over or at
/// <see cref="Drain"/>.
/// </summary>
internal sealed class ChunkSink : IDisposable
{
    /// <summary>Chunks waiting to be compressed and written, at most.</summary>
    public const int MaxQueued = 3;

    private readonly Stream _stream;
    private readonly int _compressionLevel;
    private readonly BlockingCollection<Work> _work = new(MaxQueued);
    private readonly ConcurrentBag<byte[]> _free = [];
    private readonly List<(long Offset, long FirstEvent)> _index = [];
    private readonly Thread _thread;
    private byte[] _compressed = [];
    private long _position;
    private Exception? _failure;

    private readonly record struct Work(byte[] Buffer, int Length, int Count, long FirstEvent);

    /// <summary>Writes chunks to <paramref name="stream"/> from <paramref name="position"/> on.</summary>
    public ChunkSink(Stream stream, long position, int compressionLevel)
    {
        _stream = stream;
        _position = position;
        _compressionLevel = compressionLevel;
        _thread = new Thread(WriteLoop) { IsBackground = true, Name = "vstrace-writer" };
        _thread.Start();
    }

    /// <summary>Bytes in the file so far (chunks written; after <see cref="Drain"/>, all of them).</summary>
    public long Position => Volatile.Read(ref _position);

    /// <summary>File offset and first event of each chunk written (complete after <see cref="Drain"/>).</summary>
    public IReadOnlyList<(long Offset, long FirstEvent)> Index => _index;

    /// <summary>Queues <paramref name="buffer"/>'s first <paramref name="length"/> bytes as one chunk; returns an empty buffer to encode into next.</summary>
    public byte[] Submit(byte[] buffer, int length, int count, long firstEvent)
    {
        ThrowIfFailed();
        _work.Add(new Work(buffer, length, count, firstEvent));
        return _free.TryTake(out byte[]? fresh) ? fresh : new byte[RecordEncoder.BufferSize];
    }

    /// <summary>Waits until every queued chunk is in the file.</summary>
    public void Drain()
    {
        if (!_work.IsAddingCompleted)
        {
            _work.CompleteAdding();
            _thread.Join();
        }
        ThrowIfFailed();
    }

    private void ThrowIfFailed()
    {
        if (Volatile.Read(ref _failure) is { } e)
        {
            throw new IOException($"trace writer: {e.Message}", e);
        }
    }

    private void WriteLoop()
    {
        using var compressor = new Compressor(_compressionLevel);
        foreach (Work w in _work.GetConsumingEnumerable())
        {
            if (_failure is not null)
            {
                continue;
            }
            try
            {
                Write(compressor, w);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException or NotSupportedException)
            {
                Volatile.Write(ref _failure, e);
            }
            if (w.Buffer.Length == RecordEncoder.BufferSize)
            {
                _free.Add(w.Buffer);
            }
        }
    }

    private void Write(Compressor compressor, Work w)
    {
        ReadOnlySpan<byte> raw = w.Buffer.AsSpan(0, w.Length);
        int bound = Compressor.GetCompressBound(raw.Length) + TraceLayout.ChunkHeaderSize;
        if (_compressed.Length < bound)
        {
            _compressed = new byte[bound];
        }
        Span<byte> chunk = _compressed;
        int compressedLength = compressor.Wrap(raw, chunk[TraceLayout.ChunkHeaderSize..]);
        Span<byte> payload = chunk.Slice(TraceLayout.ChunkHeaderSize, compressedLength);
        BinaryPrimitives.WriteUInt32LittleEndian(chunk[TraceLayout.ChunkMagicOffset..], TraceLayout.ChunkMagic);
        BinaryPrimitives.WriteInt64LittleEndian(chunk[TraceLayout.ChunkFirstEventOffset..], w.FirstEvent);
        BinaryPrimitives.WriteUInt32LittleEndian(chunk[TraceLayout.ChunkEventCountOffset..], (uint)w.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(chunk[TraceLayout.ChunkCompressedLengthOffset..], (uint)compressedLength);
        BinaryPrimitives.WriteUInt32LittleEndian(chunk[TraceLayout.ChunkRawLengthOffset..], (uint)raw.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(chunk[TraceLayout.ChunkCrcOffset..], Crc32.HashToUInt32(payload));
        int total = TraceLayout.ChunkHeaderSize + compressedLength;
        _stream.Write(chunk[..total]);
        _stream.Flush();
        _index.Add((_position, w.FirstEvent));
        Volatile.Write(ref _position, _position + total);
    }

    /// <summary>Stops the writing thread (after <see cref="Drain"/>, or abandoning queued chunks on an error path).</summary>
    public void Dispose()
    {
        if (!_work.IsAddingCompleted)
        {
            _work.CompleteAdding();
        }
        _thread.Join();
        _work.Dispose();
    }
}
