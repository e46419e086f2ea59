using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.CompilerServices;

namespace VirtioScope.Tracing.Format;

/// <summary>
/// Writes a <c>.vstrace</c> file as a stream: records are encoded into a chunk buffer on the caller's thread, and each
/// chunk, when it reaches <see cref="TraceLayout.ChunkTarget"/> bytes, is zstd-compressed and written by a writing
/// thread (<see cref="ChunkSink"/>), so the recording thread pays only for encoding. Memory stays bounded by a few
/// chunk buffers plus 16 bytes of index per chunk. Dispose writes the index and the checksummed footer; a writer
/// killed before that leaves a trace that reads up to its last complete record in the file.
/// </summary>
/// <remarks>
/// The per-event methods are compiled fully optimized on first call (AggressiveOptimization): a recording in a fresh
/// process (<c>run --record</c>) otherwise spends much of its first seconds in unoptimized tier-0 code, which
/// measured as most of the recording cost of the CLI.
/// </remarks>
public sealed class TraceWriter : ITraceSink, IDisposable
{
    private readonly Stream _stream;
    private readonly bool _ownsStream;
    private readonly RecordEncoder _encoder = new();
    private readonly ChunkSink _chunks;
    private readonly XxHash3 _readDigest = new();
    private readonly DataHashMemo _memo = new();
    private readonly int _chunkTarget;
    private long _tailBytes;
    private long _events;
    private long _chunkFirstEvent;
    private long _reads;
    private bool _closed;

    /// <summary>Creates (or overwrites) a trace file.</summary>
    public TraceWriter(string path, TraceHeader header, int chunkTarget = TraceLayout.ChunkTarget, int compressionLevel = 1)
        : this(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16), header, chunkTarget, compressionLevel, ownsStream: true)
    {
    }

    /// <summary>Writes a trace to a stream.</summary>
    public TraceWriter(Stream stream, TraceHeader header, int chunkTarget = TraceLayout.ChunkTarget, int compressionLevel = 1, bool ownsStream = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(header);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkTarget, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(chunkTarget, TraceLayout.MaxChunkRawLength / 2);
        _stream = stream;
        _ownsStream = ownsStream;
        _chunkTarget = chunkTarget;
        Header = header;
        FullData = header.FullData;
        byte[] json = header.ToJson();
        Span<byte> fixedHeader = stackalloc byte[TraceLayout.FileHeaderSize];
        BinaryPrimitives.WriteUInt64LittleEndian(fixedHeader[TraceLayout.FileMagicOffset..], TraceLayout.FileMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(fixedHeader[TraceLayout.FileVersionOffset..], TraceLayout.FormatVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(fixedHeader[TraceLayout.FileFlagsOffset..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(fixedHeader[TraceLayout.FileJsonLengthOffset..], (uint)json.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(fixedHeader[TraceLayout.FileJsonCrcOffset..], Crc32.HashToUInt32(json));
        _stream.Write(fixedHeader);
        _stream.Write(json);
        _stream.Flush();
        _chunks = new ChunkSink(_stream, TraceLayout.FileHeaderSize + json.Length, compressionLevel);
    }

    /// <summary>The description written at the start.</summary>
    public TraceHeader Header { get; }

    /// <summary>Whether device writes carry their bytes.</summary>
    public bool FullData { get; }

    /// <summary>Events written so far.</summary>
    public long EventCount => _events;

    /// <summary>Bytes written to the file so far (chunks still being compressed not counted).</summary>
    public long BytesWritten => _chunks.Position + _tailBytes;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Mmio(bool isWrite, uint offset, int width, uint value)
    {
        _encoder.Mmio(isWrite ? RecordKind.MmioWrite : RecordKind.MmioRead, offset, width, value);
        Added();
    }

    /// <summary>A register load whose value is unknown (imported logs).</summary>
    public void MmioReadUnvalued(uint offset, int width)
    {
        _encoder.Mmio(RecordKind.MmioReadUnvalued, offset, width, 0);
        Added();
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void GuestRead(ulong address, ReadOnlySpan<byte> bytes)
    {
        _encoder.GuestRead(address, bytes);
        Added();
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void DeviceWrite(ulong address, ReadOnlySpan<byte> bytes)
    {
        _encoder.DeviceWrite(address, bytes.Length, _memo.Hash(bytes), FullData ? bytes : default);
        Added();
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Interrupt(uint interruptStatus)
    {
        _encoder.Single(RecordKind.Interrupt, interruptStatus);
        Added();
    }

    /// <summary>The interrupt line changed level (imported logs).</summary>
    public void IrqLevel(uint level)
    {
        _encoder.Single(RecordKind.IrqLevel, level);
        Added();
    }

    /// <summary>A QueueNum write with the device's maximum (imported logs).</summary>
    public void QueueLimit(ulong value, ulong max)
    {
        _encoder.QueueLimit(value, max);
        Added();
    }

    /// <summary>Free text from the source (imported logs).</summary>
    public void Note(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        _encoder.Text(RecordKind.Note, text);
        Added();
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void BackendIo(BackendOp op, long offset, long length, ReadOnlySpan<byte> data)
    {
        ulong hash = 0;
        if (op is BackendOp.Read or BackendOp.Write)
        {
            hash = _memo.Hash(data);
            if (op == BackendOp.Read)
            {
                Span<byte> h = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(h, hash);
                _readDigest.Append(h);
                _reads++;
            }
        }
        _encoder.BackendIo(op, offset, length, hash);
        Added();
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Request(int queue, int id, byte type, ulong sector, long dataBytes, int segments, int rejection, long timestamp)
    {
        _encoder.Request(queue, id, type, sector, dataBytes, segments, rejection, timestamp);
        Added();
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Completion(int queue, int id, byte status, uint usedLength, long timestamp)
    {
        _encoder.Completion(queue, id, status, usedLength, timestamp);
        Added();
    }

    /// <inheritdoc />
    public void Fault(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        _encoder.Text(RecordKind.Fault, message);
        Added();
    }

    /// <summary>Writes any decoded event again (used by import, tests and tools that filter traces).</summary>
    public void Append(in TraceEvent e)
    {
        switch (e.Kind)
        {
            case RecordKind.MmioRead or RecordKind.MmioWrite or RecordKind.MmioReadUnvalued:
                _encoder.Mmio(e.Kind, (uint)e.Address, (int)e.Length, (uint)e.Value);
                break;
            case RecordKind.GuestRead:
                _encoder.GuestRead(e.Address, e.Data.Span);
                break;
            case RecordKind.DeviceWrite:
                _encoder.DeviceWrite(e.Address, e.Length, e.Hash, FullData ? e.Data.Span : default);
                break;
            case RecordKind.Interrupt or RecordKind.IrqLevel:
                _encoder.Single(e.Kind, e.Value);
                break;
            case RecordKind.BackendIo:
                _encoder.BackendIo((BackendOp)e.Code, (long)e.Address, e.Length, e.Hash);
                break;
            case RecordKind.Request:
                _encoder.Request(e.Queue, e.Id, e.Code, e.Address, e.Length, e.Segments, (int)e.Value, e.Timestamp);
                break;
            case RecordKind.Completion:
                _encoder.Completion(e.Queue, e.Id, e.Code, (uint)e.Value, e.Timestamp);
                break;
            case RecordKind.Fault or RecordKind.Note:
                _encoder.Text(e.Kind, e.Text ?? "");
                break;
            case RecordKind.QueueLimit:
                _encoder.QueueLimit(e.Value, (ulong)e.Length);
                break;
            default:
                throw new ArgumentException($"record kind {(int)e.Kind} cannot be written", nameof(e));
        }
        Added();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Added()
    {
        _events++;
        if (_encoder.Length >= _chunkTarget)
        {
            FlushChunk();
        }
    }

    /// <summary>
    /// Closes the chunk being encoded: it is handed to the writing thread, which compresses it, writes it and flushes
    /// the file (<see cref="Complete"/> waits for that).
    /// </summary>
    public void FlushChunk()
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        if (_encoder.Count == 0)
        {
            return;
        }
        int count = _encoder.Count;
        byte[] fresh = _chunks.Submit(_encoder.Buffer, _encoder.Length, count, _chunkFirstEvent);
        _encoder.Swap(fresh);
        _chunkFirstEvent += count;
    }

    /// <summary>Writes the last chunk, the index and the footer.</summary>
    public void Complete()
    {
        if (_closed)
        {
            return;
        }
        FlushChunk();
        _closed = true;
        _chunks.Drain();
        IReadOnlyList<(long Offset, long FirstEvent)> index = _chunks.Index;
        long position = _chunks.Position;
        int indexBytes = TraceLayout.IndexHeaderSize + (index.Count * TraceLayout.IndexEntrySize);
        byte[] tail = new byte[indexBytes + TraceLayout.FooterSize];
        Span<byte> t = tail;
        BinaryPrimitives.WriteUInt32LittleEndian(t, TraceLayout.IndexMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(t[4..], (uint)index.Count);
        for (int i = 0; i < index.Count; i++)
        {
            Span<byte> entry = t.Slice(TraceLayout.IndexHeaderSize + (i * TraceLayout.IndexEntrySize));
            BinaryPrimitives.WriteInt64LittleEndian(entry, index[i].Offset);
            BinaryPrimitives.WriteInt64LittleEndian(entry[8..], index[i].FirstEvent);
        }
        Span<byte> footer = t[indexBytes..];
        BinaryPrimitives.WriteInt64LittleEndian(footer[TraceLayout.FooterIndexOffset..], position);
        BinaryPrimitives.WriteInt64LittleEndian(footer[TraceLayout.FooterEventCountOffset..], _events);
        BinaryPrimitives.WriteUInt64LittleEndian(footer[TraceLayout.FooterReadDigestOffset..], _readDigest.GetCurrentHashAsUInt64());
        BinaryPrimitives.WriteInt64LittleEndian(footer[TraceLayout.FooterReadCountOffset..], _reads);
        BinaryPrimitives.WriteUInt32LittleEndian(footer[TraceLayout.FooterCrcOffset..], Crc32.HashToUInt32(t[..(indexBytes + TraceLayout.FooterCrcOffset)]));
        BinaryPrimitives.WriteUInt32LittleEndian(footer[TraceLayout.FooterReservedOffset..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(footer[TraceLayout.FooterMagicOffset..], TraceLayout.FooterMagic);
        _stream.Write(tail);
        _stream.Flush();
        _tailBytes = tail.Length;
    }

    /// <summary>Completes the trace and closes the file.</summary>
    public void Dispose()
    {
        try
        {
            Complete();
        }
        finally
        {
            _chunks.Dispose();
            if (_ownsStream)
            {
                _stream.Dispose();
            }
        }
    }
}
