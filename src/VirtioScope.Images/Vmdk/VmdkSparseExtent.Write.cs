using System.Buffers.Binary;
using VirtioScope.Images.Raw;

namespace VirtioScope.Images.Vmdk;

/// <summary>
/// Writes to an uncompressed hosted sparse extent (monolithicSparse): an allocated grain is written in place; a new
/// grain is appended whole at the end of the file (the rest of it zero) and only then entered in the grain table and
/// its redundant copy, so an interrupted writer never leaves a table entry pointing at unwritten data.
/// </summary>
internal sealed partial class VmdkSparseExtent
{
    private readonly Lock _allocLock = new();
    private byte[]? _newGrain;

    /// <summary>Whether this extent can be written (uncompressed, without markers).</summary>
    public bool Writable => !_header.Compressed && (_header.Flags & VmdkSparseHeader.FlagMarkers) == 0;

    private bool IsAllocated(uint e) => e > 1 || (e == 1 && !_header.ZeroGrains);

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            long inGrain = offset % _grainBytes;
            int n = (int)Math.Min(data.Length, _grainBytes - inGrain);
            uint e = Entry(offset);
            if (IsAllocated(e))
            {
                RandomAccess.Write(_file, data[..n], e * 512L + inGrain);
            }
            else
            {
                lock (_allocLock)
                {
                    e = Entry(offset);
                    if (IsAllocated(e))
                    {
                        RandomAccess.Write(_file, data[..n], e * 512L + inGrain);
                    }
                    else if (data[..n].ContainsAnyExcept((byte)0))
                    {
                        // Unallocated and zero grains read as zeroes: zero data needs no grain.
                        AllocateGrain(offset / _grainBytes, data[..n], (int)inGrain);
                    }
                }
            }
            data = data[n..];
            offset += n;
        }
    }

    /// <summary>Zeroes a range: unallocated grains already read as zeroes; allocated ones are overwritten.</summary>
    public void WriteZeroes(long offset, long length, byte[] zeros)
    {
        long end = offset + length;
        while (offset < end)
        {
            long inGrain = offset % _grainBytes;
            int n = (int)Math.Min(Math.Min(end - offset, _grainBytes - inGrain), zeros.Length);
            uint e = Entry(offset);
            if (IsAllocated(e))
            {
                RandomAccess.Write(_file, zeros.AsSpan(0, n), e * 512L + inGrain);
            }
            offset += n;
        }
    }

    public void Flush() => RandomAccess.FlushToDisk(_file);

    private void AllocateGrain(long grain, ReadOnlySpan<byte> data, int inGrain)
    {
        long table = grain / _header.GtesPerGt;
        int index = (int)(grain % _header.GtesPerGt);
        if (_gd[table] == 0)
        {
            AllocateGrainTable(table);
        }
        uint[] gt = GrainTable(table)!;
        long at = (_fileLength + 511) & ~511L;
        if (at / 512 > uint.MaxValue - 1)
        {
            throw new ImageException(ImageErrorKind.InvalidField, HostPath, "grain table", "the file would grow past what a grain table entry can address");
        }
        _newGrain ??= new byte[_grainBytes];
        _newGrain.AsSpan().Clear();
        data.CopyTo(_newGrain.AsSpan(inGrain));
        RandomAccess.Write(_file, _newGrain, at);
        _fileLength = at + _grainBytes;
        Span<byte> entry = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(entry, (uint)(at / 512));
        RandomAccess.Write(_file, entry, _gd[table] * 512L + index * 4L);
        if (RedundantTable(table) is { } rgt)
        {
            RandomAccess.Write(_file, entry, rgt * 512L + index * 4L);
        }
        Volatile.Write(ref gt[index], (uint)(at / 512));
    }

    /// <summary>The sector of the redundant grain table for <paramref name="table"/>, when the extent keeps one.</summary>
    private uint? RedundantTable(long table)
    {
        if ((_header.Flags & VmdkSparseHeader.FlagRedundantGd) == 0 || _header.RgdSector <= 0)
        {
            return null;
        }
        Span<byte> e = stackalloc byte[4];
        HostFile.ReadFull(_file, e, _header.RgdSector * 512 + table * 4);
        uint sector = BinaryPrimitives.ReadUInt32LittleEndian(e);
        return sector == 0 || sector * 512L > _fileLength - _header.GtesPerGt * 4L ? null : sector;
    }

    /// <summary>Appends an empty grain table (and its redundant copy) and enters it in the directories.</summary>
    private void AllocateGrainTable(long table)
    {
        long bytes = (_header.GtesPerGt * 4L + 511) & ~511L;
        bool redundant = (_header.Flags & VmdkSparseHeader.FlagRedundantGd) != 0 && _header.RgdSector > 0;
        long at = (_fileLength + 511) & ~511L;
        RandomAccess.Write(_file, new byte[redundant ? 2 * bytes : bytes], at);
        _fileLength = at + (redundant ? 2 * bytes : bytes);
        Span<byte> entry = stackalloc byte[4];
        if (redundant)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(entry, (uint)((at + bytes) / 512));
            RandomAccess.Write(_file, entry, _header.RgdSector * 512 + table * 4);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(entry, (uint)(at / 512));
        RandomAccess.Write(_file, entry, (long)_header.GdSector * 512 + table * 4);
        _gd[table] = (uint)(at / 512);
    }

    /// <summary>
    /// Creates an empty monolithicSparse file laid out as qemu-img does: header, descriptor, redundant grain directory
    /// and tables, grain directory and tables (all tables allocated up front), grains from the next grain boundary.
    /// </summary>
    public static void CreateMonolithic(string path, long sectors)
    {
        const int descriptorSectors = 20;
        const int gtes = (int)VmdkSparseHeader.MaxGtesPerGt;
        const long grainSectors = 128;
        long tables = (sectors + gtes * grainSectors - 1) / (gtes * grainSectors);
        if (tables * 4 > VmdkSparseHeader.MaxGdBytes)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, path, "size", "too large for a VMDK grain directory");
        }
        long gdSectors = (tables * 4 + 511) / 512;
        long gtSectors = gtes * 4 / 512;
        long rgd = 1 + descriptorSectors;
        long rgt = rgd + gdSectors;
        long gd = rgt + tables * gtSectors;
        long gt = gd + gdSectors;
        long overhead = (gt + tables * gtSectors + grainSectors - 1) / grainSectors * grainSectors;
        byte[] header = VmdkSparseHeader.Build(1, VmdkSparseHeader.FlagRedundantGd, sectors, descriptorSectors, rgd, (ulong)gd, overhead);
        byte[] descriptor = VmdkDescriptor.Build("monolithicSparse", sectors, Path.GetFileName(path), descriptorSectors, path);
        using Microsoft.Win32.SafeHandles.SafeFileHandle file = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None);
        RandomAccess.Write(file, header, 0);
        RandomAccess.Write(file, descriptor, 512);
        byte[] directory = new byte[gdSectors * 512];
        foreach ((long dirSector, long firstTable) in new[] { (rgd, rgt), (gd, gt) })
        {
            for (long t = 0; t < tables; t++)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(directory.AsSpan((int)(t * 4)), (uint)(firstTable + t * gtSectors));
            }
            RandomAccess.Write(file, directory, dirSector * 512);
        }
        RandomAccess.SetLength(file, overhead * 512);
        RandomAccess.FlushToDisk(file);
    }
}
