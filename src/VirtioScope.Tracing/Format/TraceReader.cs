using System.Buffers.Binary;
using System.IO.Hashing;
using ZstdSharp;

namespace VirtioScope.Tracing.Format;

/// <summary>
/// Reads a <c>.vstrace</c> file with random access by event number. A complete trace is opened through its index;
/// a trace without a valid footer (the recorder was killed, or the file was cut) is scanned chunk by chunk and reads
/// up to its last complete record in the file (inside a cut chunk, as far as its zstd blocks decode), with
/// <see cref="TruncationNote"/> saying what was dropped. Structural damage
/// (bad magic, checksum mismatch, a record that does not decode) throws <see cref="InvalidDataException"/> naming
/// the part at fault; a file shorter than its fixed header throws <see cref="EndOfStreamException"/>.
/// </summary>
public sealed class TraceReader : IDisposable
{
    private readonly Stream _stream;
    private readonly long _length;
    private readonly List<long> _chunkOffsets = [];
    private readonly List<long> _chunkFirstEvents = [];
    private readonly Decompressor _decompressor = new();
    private int _cachedIndex = -1;
    private TraceEvent[] _cached = [];
    private int _previousIndex = -1;
    private TraceEvent[] _previous = [];
    private int _partialIndex = -1;
    private TraceEvent[] _partial = [];

    private TraceReader(Stream stream)
    {
        _stream = stream;
        _length = stream.Length;
        Header = ReadHeader(out long dataStart);
        if (!TryOpenIndex(dataStart))
        {
            Scan(dataStart);
        }
    }

    /// <summary>Opens a trace file.</summary>
    public static TraceReader Open(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16, FileOptions.RandomAccess);
        try
        {
            return new TraceReader(stream);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Reads a trace from a seekable stream, which the reader then owns.</summary>
    public static TraceReader Open(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek)
        {
            throw new ArgumentException("trace reader needs a seekable stream", nameof(stream));
        }
        return new TraceReader(stream);
    }

    /// <summary>The trace's description.</summary>
    public TraceHeader Header { get; }

    /// <summary>Events readable from the trace.</summary>
    public long EventCount { get; private set; }

    /// <summary>Chunks readable from the trace.</summary>
    public int ChunkCount => _chunkOffsets.Count;

    /// <summary>Whether the trace ends with a valid index and footer.</summary>
    public bool IsComplete { get; private set; }

    /// <summary>Why the trace is incomplete and what was dropped, or null for a complete trace.</summary>
    public string? TruncationNote { get; private set; }

    /// <summary>Backend reads recorded (complete traces only).</summary>
    public long? BackendReads { get; private set; }

    /// <summary>XxHash3 over the hashes of all backend reads in order (complete traces only).</summary>
    public ulong? BackendReadDigest { get; private set; }

    /// <summary>The event with number <paramref name="number"/> (0 to <see cref="EventCount"/> - 1).</summary>
    public TraceEvent this[long number] => GetEvent(number);

    /// <summary>The event with number <paramref name="number"/>, found through the index.</summary>
    public TraceEvent GetEvent(long number)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(number);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(number, EventCount);
        int chunk = ChunkOf(number);
        return Chunk(chunk)[number - _chunkFirstEvents[chunk]];
    }

    /// <summary>Events from <paramref name="from"/> on, at most <paramref name="count"/>, in order.</summary>
    public IEnumerable<TraceEvent> Events(long from = 0, long count = long.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(from);
        long end = count >= EventCount - from ? EventCount : from + count;
        long n = from;
        while (n < end)
        {
            int chunk = ChunkOf(n);
            TraceEvent[] events = Chunk(chunk);
            long first = _chunkFirstEvents[chunk];
            for (long i = n - first; i < events.Length && n < end; i++, n++)
            {
                yield return events[i];
            }
        }
    }

    /// <summary>The decoded events of chunk <paramref name="index"/> (for tools that walk chunk by chunk).</summary>
    public ReadOnlySpan<TraceEvent> ChunkEvents(int index) => Chunk(index);

    /// <summary>The decoded events of chunk <paramref name="index"/> as the reader's own array (not to be modified).</summary>
    internal TraceEvent[] ChunkArray(int index) => Chunk(index);

    /// <summary>Index of the chunk that holds event <paramref name="number"/>.</summary>
    public int ChunkOf(long number)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(number);
        int i = _chunkFirstEvents.BinarySearch(number);
        return i >= 0 ? i : ~i - 1;
    }

    /// <summary>Number of the first event of chunk <paramref name="index"/>.</summary>
    public long ChunkFirstEvent(int index) => _chunkFirstEvents[index];

    private TraceEvent[] Chunk(int index)
    {
        if (index == _partialIndex)
        {
            return _partial;
        }
        if (index == _cachedIndex)
        {
            return _cached;
        }
        if (index == _previousIndex)
        {
            (_cached, _previous) = (_previous, _cached);
            (_cachedIndex, _previousIndex) = (_previousIndex, _cachedIndex);
            return _cached;
        }
        long next = index + 1 < _chunkFirstEvents.Count ? _chunkFirstEvents[index + 1] : EventCount;
        TraceEvent[] events = LoadChunk(_chunkOffsets[index], _chunkFirstEvents[index], (int)(next - _chunkFirstEvents[index]));
        _previous = _cached;
        _previousIndex = _cachedIndex;
        _cached = events;
        _cachedIndex = index;
        return events;
    }

    private TraceEvent[] LoadChunk(long offset, long expectedFirst, int expectedCount)
    {
        Span<byte> h = stackalloc byte[TraceLayout.ChunkHeaderSize];
        ReadAt(offset, h, "chunk header");
        ChunkInfo info = ParseChunkHeader(h, offset);
        if (info.FirstEvent != expectedFirst || info.Count != expectedCount)
        {
            throw new InvalidDataException($"trace chunk at offset {offset}: header says events #{info.FirstEvent}..+{info.Count}, index says #{expectedFirst}..+{expectedCount}");
        }
        byte[] compressed = new byte[info.CompressedLength];
        ReadAt(offset + TraceLayout.ChunkHeaderSize, compressed, "chunk payload");
        if (Crc32.HashToUInt32(compressed) != info.Crc)
        {
            throw new InvalidDataException($"trace chunk at offset {offset} (events #{info.FirstEvent}..): payload CRC mismatch");
        }
        byte[] raw = new byte[info.RawLength];
        int got;
        try
        {
            got = _decompressor.Unwrap(compressed, raw);
        }
        catch (ZstdException e)
        {
            throw new InvalidDataException($"trace chunk at offset {offset}: zstd payload does not decompress: {e.Message}", e);
        }
        if (got != info.RawLength)
        {
            throw new InvalidDataException($"trace chunk at offset {offset}: payload decompresses to {got} bytes, header says {info.RawLength}");
        }
        return RecordDecoder.Decode(raw, info.FirstEvent, info.Count, offset);
    }

    private readonly record struct ChunkInfo(long FirstEvent, int Count, int CompressedLength, int RawLength, uint Crc);

    private static ChunkInfo ParseChunkHeader(ReadOnlySpan<byte> h, long offset)
    {
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(h[TraceLayout.ChunkMagicOffset..]);
        if (magic != TraceLayout.ChunkMagic)
        {
            throw new InvalidDataException($"trace chunk at offset {offset}: field 'magic' is 0x{magic:x8}, expected 0x{TraceLayout.ChunkMagic:x8}");
        }
        long first = BinaryPrimitives.ReadInt64LittleEndian(h[TraceLayout.ChunkFirstEventOffset..]);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(h[TraceLayout.ChunkEventCountOffset..]);
        uint compressed = BinaryPrimitives.ReadUInt32LittleEndian(h[TraceLayout.ChunkCompressedLengthOffset..]);
        uint raw = BinaryPrimitives.ReadUInt32LittleEndian(h[TraceLayout.ChunkRawLengthOffset..]);
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(h[TraceLayout.ChunkCrcOffset..]);
        if (first < 0 || count == 0 || count > raw)
        {
            throw new InvalidDataException($"trace chunk at offset {offset}: field 'event count' {count} (first event {first}) is impossible for {raw} payload bytes");
        }
        if (raw > TraceLayout.MaxChunkRawLength || compressed > (uint)Compressor.GetCompressBound((int)Math.Min(raw, (uint)TraceLayout.MaxChunkRawLength)))
        {
            throw new InvalidDataException($"trace chunk at offset {offset}: field 'raw length' {raw} or 'compressed length' {compressed} exceeds the limits");
        }
        return new ChunkInfo(first, (int)count, (int)compressed, (int)raw, crc);
    }

    private TraceHeader ReadHeader(out long dataStart)
    {
        Span<byte> h = stackalloc byte[TraceLayout.FileHeaderSize];
        if (_length < TraceLayout.FileHeaderSize)
        {
            throw new EndOfStreamException($"trace header: file is {_length} bytes, shorter than the {TraceLayout.FileHeaderSize}-byte header");
        }
        ReadAt(0, h, "file header");
        ulong magic = BinaryPrimitives.ReadUInt64LittleEndian(h[TraceLayout.FileMagicOffset..]);
        if (magic != TraceLayout.FileMagic)
        {
            throw new InvalidDataException("trace header: field 'magic' does not say VSTRACE1; this is not a VirtioScope trace");
        }
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(h[TraceLayout.FileVersionOffset..]);
        if (version != TraceLayout.FormatVersion)
        {
            throw new InvalidDataException($"trace header: field 'version' is {version}; this build reads version {TraceLayout.FormatVersion}");
        }
        uint jsonLength = BinaryPrimitives.ReadUInt32LittleEndian(h[TraceLayout.FileJsonLengthOffset..]);
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(h[TraceLayout.FileJsonCrcOffset..]);
        if (jsonLength > TraceLayout.MaxJsonLength)
        {
            throw new InvalidDataException($"trace header: field 'json length' {jsonLength} exceeds {TraceLayout.MaxJsonLength}");
        }
        if (_length < TraceLayout.FileHeaderSize + jsonLength)
        {
            throw new EndOfStreamException($"trace header: file ends inside the {jsonLength}-byte JSON description");
        }
        byte[] json = new byte[jsonLength];
        ReadAt(TraceLayout.FileHeaderSize, json, "header JSON");
        if (Crc32.HashToUInt32(json) != crc)
        {
            throw new InvalidDataException("trace header: CRC mismatch in the JSON description");
        }
        dataStart = TraceLayout.FileHeaderSize + jsonLength;
        return TraceHeader.FromJson(json);
    }

    private bool TryOpenIndex(long dataStart)
    {
        if (_length - dataStart < TraceLayout.IndexHeaderSize + TraceLayout.FooterSize)
        {
            return false;
        }
        Span<byte> footer = stackalloc byte[TraceLayout.FooterSize];
        ReadAt(_length - TraceLayout.FooterSize, footer, "footer");
        if (BinaryPrimitives.ReadUInt64LittleEndian(footer[TraceLayout.FooterMagicOffset..]) != TraceLayout.FooterMagic)
        {
            return false;
        }
        long indexOffset = BinaryPrimitives.ReadInt64LittleEndian(footer[TraceLayout.FooterIndexOffset..]);
        long indexBytes = _length - TraceLayout.FooterSize - indexOffset;
        if (indexOffset < dataStart || indexBytes < TraceLayout.IndexHeaderSize || (indexBytes - TraceLayout.IndexHeaderSize) % TraceLayout.IndexEntrySize != 0)
        {
            throw new InvalidDataException($"trace footer: field 'index offset' {indexOffset} does not point at an index block");
        }
        byte[] tail = new byte[indexBytes + TraceLayout.FooterSize];
        ReadAt(indexOffset, tail, "index");
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(footer[TraceLayout.FooterCrcOffset..]);
        if (Crc32.HashToUInt32(tail.AsSpan(0, (int)indexBytes + TraceLayout.FooterCrcOffset)) != crc)
        {
            throw new InvalidDataException("trace footer: CRC mismatch over the index and footer");
        }
        ReadOnlySpan<byte> index = tail;
        if (BinaryPrimitives.ReadUInt32LittleEndian(index) != TraceLayout.IndexMagic)
        {
            throw new InvalidDataException($"trace index at offset {indexOffset}: field 'magic' is wrong");
        }
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(index[4..]);
        if (count != (indexBytes - TraceLayout.IndexHeaderSize) / TraceLayout.IndexEntrySize)
        {
            throw new InvalidDataException($"trace index at offset {indexOffset}: field 'entry count' {count} does not match the index size");
        }
        long events = BinaryPrimitives.ReadInt64LittleEndian(footer[TraceLayout.FooterEventCountOffset..]);
        long lastOffset = dataStart - 1;
        long lastFirst = -1;
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> e = index.Slice(TraceLayout.IndexHeaderSize + (i * TraceLayout.IndexEntrySize));
            long offset = BinaryPrimitives.ReadInt64LittleEndian(e);
            long first = BinaryPrimitives.ReadInt64LittleEndian(e[8..]);
            if (offset <= lastOffset || offset >= indexOffset || first <= lastFirst || first >= events || (i == 0 && (first != 0 || offset != dataStart)))
            {
                throw new InvalidDataException($"trace index entry {i}: chunk offset {offset} / first event {first} out of order or out of range");
            }
            _chunkOffsets.Add(offset);
            _chunkFirstEvents.Add(first);
            lastOffset = offset;
            lastFirst = first;
        }
        if (count == 0 && events != 0)
        {
            throw new InvalidDataException($"trace footer: field 'event count' is {events} but the index lists no chunks");
        }
        EventCount = events;
        BackendReadDigest = BinaryPrimitives.ReadUInt64LittleEndian(footer[TraceLayout.FooterReadDigestOffset..]);
        BackendReads = BinaryPrimitives.ReadInt64LittleEndian(footer[TraceLayout.FooterReadCountOffset..]);
        IsComplete = true;
        return true;
    }

    private void Scan(long dataStart)
    {
        long offset = dataStart;
        long events = 0;
        Span<byte> h = stackalloc byte[TraceLayout.ChunkHeaderSize];
        while (offset < _length)
        {
            if (_length - offset < TraceLayout.ChunkHeaderSize)
            {
                TruncationNote = $"trace cut short: {_length - offset} bytes of an incomplete chunk header at offset {offset} ignored";
                break;
            }
            ReadAt(offset, h, "chunk header");
            if (BinaryPrimitives.ReadUInt32LittleEndian(h) == TraceLayout.IndexMagic)
            {
                TruncationNote = $"trace cut short: the index at offset {offset} has no complete footer";
                break;
            }
            ChunkInfo info = ParseChunkHeader(h, offset);
            if (info.FirstEvent != events)
            {
                throw new InvalidDataException($"trace chunk at offset {offset}: field 'first event' is {info.FirstEvent}, expected {events}");
            }
            long end = offset + TraceLayout.ChunkHeaderSize + info.CompressedLength;
            if (end > _length)
            {
                TraceEvent[] partial = PartialChunk(offset, info);
                TruncationNote = $"trace cut short inside the chunk at offset {offset} (events #{events}..+{info.Count}): "
                    + $"{partial.Length} complete records of it reached the file and were read, without the chunk's CRC check";
                if (partial.Length > 0)
                {
                    _chunkOffsets.Add(offset);
                    _chunkFirstEvents.Add(events);
                    _partialIndex = _chunkOffsets.Count - 1;
                    _partial = partial;
                    events += partial.Length;
                }
                break;
            }
            _chunkOffsets.Add(offset);
            _chunkFirstEvents.Add(events);
            events += info.Count;
            offset = end;
        }
        TruncationNote ??= "trace cut short: no index or footer (the recorder did not finish); all complete chunks read";
        EventCount = events;
    }

    /// <summary>
    /// The complete records at the start of a chunk whose payload the file cuts short: the zstd frame is decoded as
    /// far as the bytes present allow (block by block), and the records that end within the decoded bytes are kept.
    /// </summary>
    private TraceEvent[] PartialChunk(long offset, ChunkInfo info)
    {
        long start = offset + TraceLayout.ChunkHeaderSize;
        byte[] compressed = new byte[_length - start];
        ReadAt(start, compressed, "chunk payload");
        byte[] raw = new byte[info.RawLength];
        int got = 0;
        using (var input = new DecompressionStream(new MemoryStream(compressed), leaveOpen: false))
        {
            int n;
            try
            {
                while (got < raw.Length && (n = input.Read(raw, got, raw.Length - got)) > 0)
                {
                    got += n;
                }
            }
            catch (Exception e) when (e is ZstdException or EndOfStreamException)
            {
                // The frame's next block is cut or damaged: what was decoded before it stands.
            }
        }
        (int count, int bytes) = RecordDecoder.CompletePrefix(raw.AsSpan(0, got), info.Count);
        return RecordDecoder.Decode(raw[..bytes], info.FirstEvent, count, offset);
    }

    private void ReadAt(long offset, Span<byte> destination, string what)
    {
        _stream.Position = offset;
        try
        {
            _stream.ReadExactly(destination);
        }
        catch (EndOfStreamException e)
        {
            throw new EndOfStreamException($"trace: file ends inside the {what} at offset {offset}", e);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _decompressor.Dispose();
        _stream.Dispose();
    }
}
