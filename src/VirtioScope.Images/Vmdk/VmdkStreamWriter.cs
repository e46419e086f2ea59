using System.Buffers.Binary;
using System.IO.Compression;
using Microsoft.Win32.SafeHandles;
using VirtioScope.Block;
using VirtioScope.Images.Raw;

namespace VirtioScope.Images.Vmdk;

/// <summary>
/// Writes a streamOptimized VMDK (VMware Virtual Disk Format 5.0, "Stream-Optimized Compressed Sparse Extents"),
/// the format OVA appliances carry: header (grain directory "at the end"), embedded descriptor, then each grain
/// deflated behind a grain marker as soon as all its sectors are written, in any order; at close the grain tables
/// (GT markers), the grain directory (GD marker), the footer (footer marker) and the end-of-stream marker.
/// A grain is written once: writing into a grain already emitted is refused.
/// </summary>
public sealed class VmdkStreamWriter : IDiskImage, IImageDetails
{
    private const int GrainSectors = 128;
    private const int GrainBytes = GrainSectors * 512;
    private const int GtesPerGt = 512;
    private const int DescriptorSectors = 20;
    private const long FirstGrainSector = GrainSectors;
    private const uint MarkerEos = 0;
    private const uint MarkerGt = 1;
    private const uint MarkerGd = 2;
    private const uint MarkerFooter = 3;

    private readonly object _lock = new();
    private readonly SafeFileHandle _file;
    private readonly byte[] _header;
    private readonly uint[] _gt;
    private readonly bool[] _done;
    private readonly Dictionary<long, PendingGrain> _pending = [];
    private readonly MemoryStream _compressed = new();
    private readonly byte[] _grain = new byte[GrainBytes];
    private long _next = FirstGrainSector;
    private bool _closed;

    private VmdkStreamWriter(string path, SafeFileHandle file, long virtualSize, byte[] header)
    {
        FilePath = path;
        _file = file;
        VirtualSize = virtualSize;
        _header = header;
        long grains = (virtualSize + GrainBytes - 1) / GrainBytes;
        _gt = new uint[(grains + GtesPerGt - 1) / GtesPerGt * GtesPerGt];
        _done = new bool[grains];
    }

    /// <inheritdoc />
    public string FilePath { get; }

    /// <inheritdoc />
    public ImageFormat Format => ImageFormat.Vmdk;

    /// <inheritdoc />
    public long VirtualSize { get; }

    /// <inheritdoc />
    public bool IsReadOnly => false;

    /// <inheritdoc />
    public IDiskImage? Backing => null;

    /// <inheritdoc />
    public long ActualSize => HostFile.AllocatedBytes(FilePath);

    /// <inheritdoc />
    public int? ClusterSize => GrainBytes;

    /// <inheritdoc />
    public bool? DirtyFlag => null;

    /// <inheritdoc />
    public string? BackingFileName => null;

    /// <inheritdoc />
    public string? FullBackingFileName => null;

    /// <inheritdoc />
    public string? BackingFormat => null;

    /// <inheritdoc />
    public IReadOnlyList<KeyValuePair<string, object>> FormatSpecific => [new("create-type", "streamOptimized")];

    /// <summary>Creates the file with its header and descriptor; the rest is written as data arrives and at close.</summary>
    internal static VmdkStreamWriter Create(string path, long size)
    {
        long sectors = (size + 511) / 512;
        if ((sectors + (long)GtesPerGt * GrainSectors - 1) / ((long)GtesPerGt * GrainSectors) * 4 > VmdkSparseHeader.MaxGdBytes || size <= 0)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, path, "size", "must be positive and small enough for a VMDK grain directory");
        }
        byte[] header = VmdkSparseHeader.Build(3, VmdkSparseHeader.FlagCompressed | VmdkSparseHeader.FlagMarkers, sectors, DescriptorSectors, 0,
            VmdkSparseHeader.GdAtEnd, FirstGrainSector);
        byte[] text = VmdkDescriptor.Build("streamOptimized", sectors, Path.GetFileName(path), DescriptorSectors, path);
        SafeFileHandle file = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None);
        try
        {
            RandomAccess.Write(file, header, 0);
            RandomAccess.Write(file, text, 512);
            RandomAccess.SetLength(file, FirstGrainSector * 512);
            return new VmdkStreamWriter(path, file, sectors * 512, header);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        CheckRange(offset, source.Length);
        lock (_lock)
        {
            ThrowIfClosed();
            while (!source.IsEmpty)
            {
                long grain = offset / GrainBytes;
                int inGrain = (int)(offset % GrainBytes);
                int n = Math.Min(source.Length, GrainBytes - inGrain);
                PendingGrain p = Pending(grain);
                source[..n].CopyTo(p.Data.AsSpan(inGrain));
                p.Cover(inGrain, n);
                if (p.Complete)
                {
                    Emit(grain, p.Data);
                    _pending.Remove(grain);
                }
                source = source[n..];
                offset += n;
            }
        }
    }

    /// <inheritdoc />
    public void WriteZeroes(long offset, long length, ZeroingMode mode)
    {
        CheckRange(offset, length);
        lock (_lock)
        {
            ThrowIfClosed();
            long end = offset + length;
            while (offset < end)
            {
                long grain = offset / GrainBytes;
                int inGrain = (int)(offset % GrainBytes);
                int n = (int)Math.Min(end - offset, GrainBytes - inGrain);
                if (n == GrainBytes && !_done[grain] && !_pending.ContainsKey(grain))
                {
                    // A whole zero grain needs nothing in the stream: its table entry stays 0 (reads as zeroes).
                    _done[grain] = true;
                }
                else
                {
                    PendingGrain p = Pending(grain);
                    p.Data.AsSpan(inGrain, n).Clear();
                    p.Cover(inGrain, n);
                    if (p.Complete)
                    {
                        Emit(grain, p.Data);
                        _pending.Remove(grain);
                    }
                }
                offset += n;
            }
        }
    }

    /// <inheritdoc />
    public void Discard(long offset, long length) => WriteZeroes(offset, length, ZeroingMode.MayUnmap);

    private PendingGrain Pending(long grain)
    {
        if (_done[grain])
        {
            throw new ImageException(ImageErrorKind.UnsupportedFeature, FilePath, "grain",
                $"grain {grain} was already written; a streamOptimized VMDK stores each grain once");
        }
        if (!_pending.TryGetValue(grain, out PendingGrain? p))
        {
            p = new PendingGrain();
            long valid = Math.Min(GrainBytes, VirtualSize - grain * GrainBytes);
            // Sectors past the end of the disk are never written: count them as done so the last grain completes.
            p.Cover((int)valid, GrainBytes - (int)valid);
            _pending.Add(grain, p);
        }
        return p;
    }

    /// <summary>Appends one grain (deflated behind its marker) unless it is all zeroes. Caller holds the lock.</summary>
    private void Emit(long grain, byte[] data)
    {
        _done[grain] = true;
        int length = (int)Math.Min(GrainBytes, VirtualSize - grain * GrainBytes);
        if (!data.AsSpan(0, length).ContainsAnyExcept((byte)0))
        {
            return;
        }
        _compressed.SetLength(0);
        Span<byte> marker = stackalloc byte[12];
        _compressed.Write(marker);
        using (var z = new ZLibStream(_compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            z.Write(data, 0, GrainBytes);
        }
        int compressedLength = (int)_compressed.Length - marker.Length;
        byte[] buffer = _compressed.GetBuffer();
        BinaryPrimitives.WriteInt64LittleEndian(buffer, grain * GrainSectors);
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(8), compressedLength);
        int total = (int)_compressed.Length;
        int padded = (total + 511) & ~511;
        if (buffer.Length < padded)
        {
            _compressed.SetLength(padded);
            buffer = _compressed.GetBuffer();
        }
        buffer.AsSpan(total, padded - total).Clear();
        if (_next > uint.MaxValue - padded / 512)
        {
            throw new ImageException(ImageErrorKind.InvalidField, FilePath, "grain table", "the file would grow past what a grain table entry can address");
        }
        RandomAccess.Write(_file, buffer.AsSpan(0, padded), _next * 512);
        _gt[grain] = (uint)_next;
        _next += padded / 512;
    }

    /// <inheritdoc />
    public void Read(long offset, Span<byte> destination)
    {
        CheckRange(offset, destination.Length);
        lock (_lock)
        {
            while (!destination.IsEmpty)
            {
                long grain = offset / GrainBytes;
                int inGrain = (int)(offset % GrainBytes);
                int n = Math.Min(destination.Length, GrainBytes - inGrain);
                if (_pending.TryGetValue(grain, out PendingGrain? p))
                {
                    p.Data.AsSpan(inGrain, n).CopyTo(destination);
                }
                else if (_gt[grain] == 0)
                {
                    destination[..n].Clear();
                }
                else
                {
                    Inflate(_gt[grain]);
                    _grain.AsSpan(inGrain, n).CopyTo(destination);
                }
                destination = destination[n..];
                offset += n;
            }
        }
    }

    private void Inflate(uint sector)
    {
        Span<byte> marker = stackalloc byte[12];
        HostFile.ReadFull(_file, marker, sector * 512L);
        int size = BinaryPrimitives.ReadInt32LittleEndian(marker[8..]);
        byte[] compressed = new byte[size];
        HostFile.ReadFull(_file, compressed, sector * 512L + 12);
        using var z = new ZLibStream(new MemoryStream(compressed), CompressionMode.Decompress);
        z.ReadExactly(_grain);
    }

    /// <inheritdoc />
    public ImageExtent GetExtent(long offset, long length)
    {
        CheckRange(offset, length);
        lock (_lock)
        {
            long grain = offset / GrainBytes;
            long n = Math.Min(length, GrainBytes - (offset % GrainBytes));
            bool data = _pending.ContainsKey(grain) || _gt[grain] != 0;
            return data
                ? new ImageExtent(offset, n, ExtentKind.Data, FilePath, -1) { Compressed = true }
                : new ImageExtent(offset, n, ExtentKind.Unallocated, null, -1);
        }
    }

    /// <summary>Makes the grains written so far durable; the stream's tables are only written at close.</summary>
    public void Flush() => RandomAccess.FlushToDisk(_file);

    /// <summary>Emits the grains still pending (their unwritten parts zero), then the tables, footer and end-of-stream marker.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }
            _closed = true;
            try
            {
                foreach ((long grain, PendingGrain p) in _pending.OrderBy(kv => kv.Key))
                {
                    Emit(grain, p.Data);
                }
                _pending.Clear();
                WriteTables();
                RandomAccess.FlushToDisk(_file);
            }
            finally
            {
                _file.Dispose();
                _compressed.Dispose();
            }
        }
    }

    private void WriteTables()
    {
        int tables = _gt.Length / GtesPerGt;
        uint[] gd = new uint[tables];
        byte[] table = new byte[GtesPerGt * 4];
        for (int t = 0; t < tables; t++)
        {
            ReadOnlySpan<uint> entries = _gt.AsSpan(t * GtesPerGt, GtesPerGt);
            if (!entries.ContainsAnyExcept(0u))
            {
                continue;
            }
            for (int i = 0; i < GtesPerGt; i++)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(i * 4), entries[i]);
            }
            gd[t] = (uint)WriteMetadata(MarkerGt, table);
        }
        byte[] gdBytes = new byte[Math.Max(512, (tables * 4 + 511) & ~511)];
        for (int t = 0; t < tables; t++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(gdBytes.AsSpan(t * 4), gd[t]);
        }
        long gdSector = WriteMetadata(MarkerGd, gdBytes);
        byte[] footer = (byte[])_header.Clone();
        BinaryPrimitives.WriteInt64LittleEndian(footer.AsSpan(VmdkSparseHeader.GdOffsetOffset), gdSector);
        WriteMetadata(MarkerFooter, footer);
        byte[] eos = new byte[512];
        RandomAccess.Write(_file, eos, _next * 512);
        _next++;
    }

    /// <summary>Writes a metadata marker and its sectors; returns the sector where the metadata starts.</summary>
    private long WriteMetadata(uint type, byte[] metadata)
    {
        int sectors = (metadata.Length + 511) / 512;
        byte[] marker = new byte[512];
        BinaryPrimitives.WriteInt64LittleEndian(marker, sectors);
        BinaryPrimitives.WriteUInt32LittleEndian(marker.AsSpan(12), type);
        RandomAccess.Write(_file, marker, _next * 512);
        long at = _next + 1;
        byte[] padded = metadata.Length == sectors * 512 ? metadata : [.. metadata, .. new byte[sectors * 512 - metadata.Length]];
        RandomAccess.Write(_file, padded, at * 512);
        _next = at + sectors;
        return at;
    }

    private void CheckRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset > VirtualSize - length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"range {offset}+{length} is outside the {VirtualSize}-byte disk");
        }
    }

    private void ThrowIfClosed()
    {
        if (_closed)
        {
            throw new ImageException(ImageErrorKind.ReadOnly, FilePath, null, "the streamOptimized VMDK is closed");
        }
    }

    /// <summary>A grain being filled: its bytes and which of its 128 sectors have been written in full.</summary>
    private sealed class PendingGrain
    {
        private readonly bool[] _sectors = new bool[GrainSectors];
        private int _covered;

        public byte[] Data { get; } = new byte[GrainBytes];

        public bool Complete => _covered == GrainSectors;

        public void Cover(int offset, int length)
        {
            for (int s = (offset + 511) / 512; s < (offset + length) / 512; s++)
            {
                if (!_sectors[s])
                {
                    _sectors[s] = true;
                    _covered++;
                }
            }
        }
    }
}
