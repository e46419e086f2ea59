using System.Buffers.Binary;
using System.IO.Compression;
using Microsoft.Win32.SafeHandles;
using VirtioScope.Images.Raw;

namespace VirtioScope.Images.Vmdk;

/// <summary>
/// A hosted sparse extent (monolithicSparse, twoGbMaxExtentSparse, streamOptimized): a grain directory of grain
/// tables of grain sector numbers. Grain tables are loaded on first use and checked entry by entry; compressed
/// grains (streamOptimized) are inflated into one cached grain buffer.
/// </summary>
internal sealed partial class VmdkSparseExtent : VmdkExtent
{
    /// <summary>A compressed grain's marker: 8-byte LBA, 4-byte compressed size, then the deflate (zlib) stream.</summary>
    private const int MarkerLbaOffset = 0;
    private const int MarkerSizeOffset = 8;
    private const int MarkerDataOffset = 12;

    private readonly SafeFileHandle _file;
    private readonly VmdkSparseHeader _header;
    private readonly uint[] _gd;
    private readonly uint[]?[] _gts;
    private long _fileLength;
    private readonly long _grainBytes;
    private readonly object _grainLock = new();
    private byte[]? _grain;
    private byte[]? _compressed;
    private long _cachedGrain = -1;

    private VmdkSparseExtent(string path, SafeFileHandle file, VmdkSparseHeader header, uint[] gd, long fileLength)
    {
        HostPath = path;
        _file = file;
        _header = header;
        _gd = gd;
        _gts = new uint[]?[gd.Length];
        _fileLength = fileLength;
        _grainBytes = header.GrainSectors * 512;
    }

    public override string HostPath { get; }

    public VmdkSparseHeader Header => _header;

    /// <summary>Opens a sparse extent file; a streamOptimized file's real header is its footer.</summary>
    public static VmdkSparseExtent Open(string path, SafeFileHandle file, long extentSectors)
    {
        long length = RandomAccess.GetLength(file);
        Span<byte> h = stackalloc byte[VmdkSparseHeader.Size];
        HostFile.ReadFull(file, h, 0);
        VmdkSparseHeader header = VmdkSparseHeader.Parse(h, length, path);
        if (header.GdSector == VmdkSparseHeader.GdAtEnd)
        {
            if (length < 3 * 512L)
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, "gd offset", "grain directory is at the end, but the file is too short for a footer");
            }
            HostFile.ReadFull(file, h, length - 1024);
            header = VmdkSparseHeader.Parse(h, length, path);
            if (header.GdSector == VmdkSparseHeader.GdAtEnd)
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, "gd offset", "the footer does not say where the grain directory is");
            }
        }
        if (extentSectors >= 0 && extentSectors > header.CapacitySectors)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "capacity", $"the descriptor gives {extentSectors} sectors, the extent holds {header.CapacitySectors}");
        }
        long entries = header.GdEntries;
        long gdByte = (long)header.GdSector * 512;
        if (gdByte > length - entries * 4)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "gd offset", $"grain directory of {entries} entries at {gdByte} lies outside the {length}-byte file");
        }
        byte[] raw = new byte[entries * 4];
        HostFile.ReadFull(file, raw, gdByte);
        var gd = new uint[entries];
        long gtBytes = header.GtesPerGt * 4L;
        for (int i = 0; i < gd.Length; i++)
        {
            gd[i] = BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(i * 4));
            if (gd[i] != 0 && gd[i] * 512L > length - gtBytes)
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, $"grain directory entry {i}", $"grain table at sector {gd[i]} lies outside the {length}-byte file");
            }
        }
        return new VmdkSparseExtent(path, file, header, gd, length) { Length = (extentSectors >= 0 ? extentSectors : header.CapacitySectors) * 512 };
    }

    private uint[]? GrainTable(long index)
    {
        uint sector = _gd[index];
        if (sector == 0)
        {
            return null;
        }
        uint[]? gt = Volatile.Read(ref _gts[index]);
        if (gt is not null)
        {
            return gt;
        }
        int n = _header.GtesPerGt;
        byte[] raw = new byte[n * 4];
        HostFile.ReadFull(_file, raw, sector * 512L);
        gt = new uint[n];
        for (int i = 0; i < n; i++)
        {
            uint e = BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(i * 4));
            bool zero = e == 1 && _header.ZeroGrains;
            long limit = _header.Compressed ? _fileLength - MarkerDataOffset : _fileLength - 1;
            if (e != 0 && !zero && (e * 512L > limit || e * 512L < VmdkSparseHeader.Size))
            {
                throw new ImageException(ImageErrorKind.InvalidField, HostPath, $"grain table {index} entry {i}", $"grain at sector {e} lies outside the {_fileLength}-byte file");
            }
            gt[i] = e;
        }
        return Interlocked.CompareExchange(ref _gts[index], gt, null) ?? gt;
    }

    /// <summary>The grain table entry for byte <paramref name="offset"/>: 0 unallocated, 1 zero (when enabled), else a sector.</summary>
    private uint Entry(long offset)
    {
        long grain = offset / _grainBytes;
        uint[]? gt = GrainTable(grain / _header.GtesPerGt);
        return gt is null ? 0 : gt[grain % _header.GtesPerGt];
    }

    public override void Read(long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            long inGrain = offset % _grainBytes;
            int n = (int)Math.Min(destination.Length, _grainBytes - inGrain);
            uint e = Entry(offset);
            if (e == 0 || (e == 1 && _header.ZeroGrains))
            {
                destination[..n].Clear();
            }
            else if (_header.Compressed)
            {
                ReadCompressed(offset / _grainBytes, e, inGrain, destination[..n]);
            }
            else
            {
                HostFile.ReadFull(_file, destination[..n], e * 512L + inGrain);
            }
            destination = destination[n..];
            offset += n;
        }
    }

    private void ReadCompressed(long grain, uint sector, long inGrain, Span<byte> destination)
    {
        lock (_grainLock)
        {
            _grain ??= new byte[_grainBytes];
            if (_cachedGrain != grain)
            {
                _cachedGrain = -1;
                Inflate(grain, sector);
                _cachedGrain = grain;
            }
            _grain.AsSpan((int)inGrain, destination.Length).CopyTo(destination);
        }
    }

    private void Inflate(long grain, uint sector)
    {
        Span<byte> marker = stackalloc byte[MarkerDataOffset];
        long at = sector * 512L;
        HostFile.ReadFull(_file, marker, at);
        long lba = BinaryPrimitives.ReadInt64LittleEndian(marker[MarkerLbaOffset..]);
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(marker[MarkerSizeOffset..]);
        if (lba != grain * _header.GrainSectors)
        {
            throw new ImageException(ImageErrorKind.Corrupt, HostPath, "grain marker", $"grain at sector {sector} says LBA {lba}, expected {grain * _header.GrainSectors}");
        }
        // Deflate never expands by more than a few bytes per 16 KiB block; anything bigger than twice the grain is hostile.
        if (size == 0 || size > 2 * _grainBytes + 1024 || at + MarkerDataOffset + size > _fileLength)
        {
            throw new ImageException(ImageErrorKind.InvalidField, HostPath, "grain marker size", $"compressed grain at sector {sector} claims {size} bytes");
        }
        if (_compressed is null || _compressed.Length < size)
        {
            _compressed = new byte[Math.Max(size, 4096)];
        }
        HostFile.ReadFull(_file, _compressed.AsSpan(0, (int)size), at + MarkerDataOffset);
        using var input = new MemoryStream(_compressed, 0, (int)size, writable: false);
        using var z = new ZLibStream(input, CompressionMode.Decompress);
        int total = 0;
        try
        {
            while (total < _grain!.Length)
            {
                int r = z.Read(_grain, total, _grain.Length - total);
                if (r == 0)
                {
                    break;
                }
                total += r;
            }
        }
        catch (InvalidDataException e)
        {
            throw new ImageException(ImageErrorKind.Corrupt, HostPath, "compressed grain", $"grain at sector {sector} does not inflate: {e.Message}");
        }
        _grain.AsSpan(total).Clear();
    }

    public override ImageExtent GetExtent(long offset, long length)
    {
        long inGrain = offset % _grainBytes;
        long n = Math.Min(length, _grainBytes - inGrain);
        uint e = Entry(offset);
        ExtentKind kind = e == 0 ? ExtentKind.Unallocated : e == 1 && _header.ZeroGrains ? ExtentKind.Zero : ExtentKind.Data;
        long pos = offset + n;
        long end = offset + length;
        while (pos < end && kind != ExtentKind.Data)
        {
            uint next = Entry(pos);
            ExtentKind k = next == 0 ? ExtentKind.Unallocated : next == 1 && _header.ZeroGrains ? ExtentKind.Zero : ExtentKind.Data;
            if (k != kind)
            {
                break;
            }
            pos = Math.Min(end, pos + _grainBytes);
        }
        if (kind == ExtentKind.Data)
        {
            return _header.Compressed
                ? new ImageExtent(offset, n, ExtentKind.Data, HostPath, -1) { Compressed = true }
                : new ImageExtent(offset, n, ExtentKind.Data, HostPath, e * 512L + inGrain);
        }
        return new ImageExtent(offset, pos - offset, kind, null, -1);
    }

    /// <summary>
    /// Checks every grain table: a grain starting at or after the end of the file (qemu-img's "points after EOF"),
    /// an uncompressed grain over the header, grain directory or grain tables, and two entries sharing one grain.
    /// </summary>
    public void Check(CheckReport report, long firstSector)
    {
        int n = _header.GtesPerGt;
        long gtBytes = n * 4L;
        var tables = new List<(long Start, long End)> { (0, VmdkSparseHeader.Size), ((long)_header.GdSector * 512, (long)_header.GdSector * 512 + _gd.Length * 4L) };
        foreach (uint g in _gd)
        {
            if (g != 0)
            {
                tables.Add((g * 512L, g * 512L + gtBytes));
            }
        }
        var seen = new Dictionary<uint, long>();
        byte[] raw = new byte[gtBytes];
        for (int t = 0; t < _gd.Length; t++)
        {
            if (_gd[t] == 0)
            {
                continue;
            }
            HostFile.ReadFull(_file, raw, _gd[t] * 512L);
            for (int i = 0; i < n; i++)
            {
                uint e = BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(i * 4));
                long sector = firstSector + ((long)t * n + i) * _header.GrainSectors;
                if (e == 0 || (e == 1 && _header.ZeroGrains))
                {
                    continue;
                }
                long start = e * 512L;
                if (start >= _fileLength)
                {
                    report.Corruptions++;
                    report.Messages.Add($"ERROR: cluster offset for sector {sector} points after EOF");
                    continue;
                }
                if (!_header.Compressed && tables.Any(r => start < r.End && r.Start < start + _grainBytes))
                {
                    report.Corruptions++;
                    report.Messages.Add($"ERROR: grain for sector {sector} at offset {start} overlaps the header, grain directory or a grain table");
                }
                if (!seen.TryAdd(e, sector))
                {
                    report.Corruptions++;
                    report.Messages.Add($"ERROR: grain for sector {sector} at offset {start} is also the grain of sector {seen[e]}");
                }
            }
        }
    }

    public override void Dispose() => _file.Dispose();
}
