using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using static VirtioScope.Images.Qcow2.Qcow2Layout;

namespace VirtioScope.Images.Qcow2;

/// <summary>
/// The refcount table and blocks of a writable image: lookups, updates and cluster allocation. Changes stay in
/// memory until <see cref="WriteDirty"/>; the image decides when (always before anything that points at the
/// newly counted clusters is written). Callers hold the image's metadata lock.
/// </summary>
internal sealed class Qcow2Refcounts
{
    private readonly SafeFileHandle _file;
    private readonly Qcow2Header _header;
    private readonly string _path;
    private readonly int _clusterBits;
    private readonly int _clusterSize;
    private readonly int _refcountBits;
    private readonly int _blockEntriesBits;
    private readonly ulong _maxRefcount;
    private readonly Dictionary<long, byte[]> _blocks = [];
    private readonly HashSet<long> _dirtyBlocks = [];
    private readonly HashSet<long> _dirtyTableEntries = [];
    private ulong[] _table;
    private long _fileLength;
    private long _freeHint;
    private long _endCluster;

    public Qcow2Refcounts(SafeFileHandle file, Qcow2Header header, string path, long fileLength)
    {
        _file = file;
        _header = header;
        _path = path;
        _clusterBits = header.ClusterBits;
        _clusterSize = header.ClusterSize;
        _refcountBits = header.RefcountBits;
        _blockEntriesBits = _clusterBits + 3 - header.RefcountOrder;
        _maxRefcount = _refcountBits == 64 ? ulong.MaxValue : (1UL << _refcountBits) - 1;
        _fileLength = fileLength;
        _endCluster = (fileLength + _clusterSize - 1) >> _clusterBits;
        byte[] raw = new byte[(long)header.RefcountTableClusters << _clusterBits];
        Raw.HostFile.ReadFull(file, raw, header.RefcountTableOffset);
        _table = new ulong[raw.Length / 8];
        for (int i = 0; i < _table.Length; i++)
        {
            _table[i] = BinaryPrimitives.ReadUInt64BigEndian(raw.AsSpan(i * 8));
        }
        _freeHint = 1;
    }

    public CacheMode Cache { get; init; }

    private void Sync()
    {
        if (Cache == CacheMode.Writeback)
        {
            RandomAccess.FlushToDisk(_file);
        }
    }

    public ulong MaxRefcount => _maxRefcount;

    public int TableEntries => _table.Length;

    /// <summary>One past the highest cluster the file or any allocation reaches.</summary>
    public long EndCluster => _endCluster;

    public bool IsDirty => _dirtyBlocks.Count > 0 || _dirtyTableEntries.Count > 0;

    public long BlockOffset(long tableIndex) => tableIndex < _table.Length ? (long)(_table[tableIndex] & ~RefTableReservedMask) : 0;

    /// <summary>The refcount of <paramref name="cluster"/> (0 for clusters no block covers).</summary>
    public ulong Get(long cluster)
    {
        byte[]? block = GetBlock(cluster >> _blockEntriesBits, create: false);
        return block is null ? 0 : ReadEntry(block, (int)(cluster & ((1L << _blockEntriesBits) - 1)));
    }

    /// <summary>Whether a cluster is free, after making sure a refcount block covers it (a new block may take it).</summary>
    public bool IsFreeCovered(long cluster)
    {
        GetBlock(cluster >> _blockEntriesBits, create: true);
        return Get(cluster) == 0;
    }

    /// <summary>Sets the refcount of <paramref name="cluster"/>, creating its refcount block when needed.</summary>
    public void Set(long cluster, ulong value)
    {
        if (value > _maxRefcount)
        {
            throw new ImageException(ImageErrorKind.Corrupt, _path, "refcount", $"refcount of cluster {cluster} would exceed {_maxRefcount}");
        }
        long index = cluster >> _blockEntriesBits;
        byte[] block = GetBlock(index, create: true)!;
        WriteEntry(block, (int)(cluster & ((1L << _blockEntriesBits) - 1)), value);
        _dirtyBlocks.Add(index);
        if (value == 0 && cluster < _freeHint)
        {
            _freeHint = cluster;
        }
        if (value != 0 && cluster >= _endCluster)
        {
            _endCluster = cluster + 1;
        }
    }

    /// <summary>Adds <paramref name="delta"/> to a refcount, refusing underflow and overflow.</summary>
    public void Add(long cluster, long delta)
    {
        ulong current = Get(cluster);
        if (delta < 0 && current < (ulong)(-delta))
        {
            throw new ImageException(ImageErrorKind.Corrupt, _path, "refcount", $"refcount of cluster {cluster} would drop below zero");
        }
        ulong next = delta < 0 ? current - (ulong)(-delta) : current + (ulong)delta;
        if (delta > 0 && (next < current || next > _maxRefcount))
        {
            throw new ImageException(ImageErrorKind.Corrupt, _path, "refcount", $"refcount of cluster {cluster} would exceed {_maxRefcount}");
        }
        Set(cluster, next);
    }

    /// <summary>Finds <paramref name="count"/> free contiguous clusters, sets their refcounts to 1, returns the first index.</summary>
    public long Allocate(int count)
    {
        for (int attempt = 0; attempt < 4; attempt++)
        {
            (long start, int got) = FindRun(count, count);
            if (got == count && CoverRun(start, count))
            {
                Claim(start, count);
                return start;
            }
        }
        // Self-describing blocks keep splitting the free space (a run as long as a block's span cannot exist):
        // take an area at the end and put the blocks it needs right after it.
        long a = _endCluster;
        long blocks = 0;
        for (int iter = 0; iter < 8; iter++)
        {
            long need = CountMissingBlocks(a, count + blocks);
            if (need == blocks)
            {
                break;
            }
            blocks = need;
        }
        long next = a + count;
        for (long i = a >> _blockEntriesBits; i <= (a + count + blocks - 1) >> _blockEntriesBits; i++)
        {
            if (!_blocks.ContainsKey(i) && (i >= _table.Length || _table[i] == 0))
            {
                if (i >= _table.Length)
                {
                    GrowTable(i + 1);
                    return Allocate(count);
                }
                _blocks[i] = new byte[_clusterSize];
                _table[i] = (ulong)(next << _clusterBits);
                _dirtyBlocks.Add(i);
                _dirtyTableEntries.Add(i);
                next++;
            }
        }
        _endCluster = Math.Max(_endCluster, next);
        for (long c = a + count; c < next; c++)
        {
            Set(c, 1);
        }
        Claim(a, count);
        return a;
    }

    /// <summary>
    /// Allocates up to <paramref name="maxCount"/> contiguous clusters (at least one), for data that may be split
    /// over several runs; returns the first index and how many were taken.
    /// </summary>
    public (long Start, int Count) AllocateRun(int maxCount)
    {
        for (int attempt = 0; attempt < 8; attempt++)
        {
            (long start, int got) = FindRun(maxCount, 1);
            if (CoverRun(start, got))
            {
                Claim(start, got);
                return (start, got);
            }
        }
        return (Allocate(1), 1);
    }

    // The first free run from the hint at least minCount long, extended up to maxCount.
    private (long Start, int Count) FindRun(int maxCount, int minCount)
    {
        long start = _freeHint < 1 ? 1 : _freeHint;
        long c = start;
        int run = 0;
        while (run < maxCount)
        {
            if (Get(c) == 0)
            {
                run++;
            }
            else
            {
                if (run >= minCount)
                {
                    break;
                }
                run = 0;
                start = c + 1;
            }
            c++;
        }
        return (start, run);
    }

    // Makes sure refcount blocks cover the run; false when a block had to be placed inside it.
    private bool CoverRun(long start, int count)
    {
        for (long i = start >> _blockEntriesBits; i <= (start + count - 1) >> _blockEntriesBits; i++)
        {
            GetBlock(i, create: true);
        }
        for (long k = start; k < start + count; k++)
        {
            if (Get(k) != 0)
            {
                return false;
            }
        }
        return true;
    }

    private void Claim(long start, int count)
    {
        for (long k = start; k < start + count; k++)
        {
            Set(k, 1);
        }
        if (start <= _freeHint)
        {
            _freeHint = start + count;
        }
    }

    /// <summary>Writes dirty refcount blocks, then the table entries that point at new blocks.</summary>
    public void WriteDirty()
    {
        foreach (long index in _dirtyBlocks.Order())
        {
            RandomAccess.Write(_file, _blocks[index], BlockOffset(index));
        }
        _dirtyBlocks.Clear();
        if (_dirtyTableEntries.Count > 0)
        {
            Span<byte> entry = stackalloc byte[8];
            foreach (long index in _dirtyTableEntries.Order())
            {
                BinaryPrimitives.WriteUInt64BigEndian(entry, _table[index]);
                RandomAccess.Write(_file, entry, _header.RefcountTableOffset + index * 8);
            }
            _dirtyTableEntries.Clear();
        }
    }

    private byte[]? GetBlock(long index, bool create)
    {
        if (_blocks.TryGetValue(index, out byte[]? block))
        {
            return block;
        }
        if (index >= _table.Length)
        {
            if (!create)
            {
                return null;
            }
            GrowTable(index + 1);
            return GetBlock(index, create);
        }
        ulong entry = _table[index];
        if ((entry & RefTableReservedMask) != 0)
        {
            throw new ImageException(ImageErrorKind.Corrupt, _path, $"refcount table entry {index}", "reserved bits are set");
        }
        long offset = (long)entry;
        if (offset == 0)
        {
            if (!create)
            {
                return null;
            }
            return CreateSelfDescribingBlock(index);
        }
        if (offset <= 0 || offset % _clusterSize != 0 || offset > _fileLength - _clusterSize)
        {
            throw new ImageException(ImageErrorKind.Corrupt, _path, $"refcount table entry {index}", $"refcount block offset 0x{offset:x} is unaligned or past the end of the file");
        }
        block = new byte[_clusterSize];
        Raw.HostFile.ReadFull(_file, block, offset);
        _blocks[index] = block;
        return block;
    }

    // A missing block covers only free clusters, so the first of them can hold the block itself.
    private byte[] CreateSelfDescribingBlock(long index)
    {
        long cluster = index << _blockEntriesBits;
        byte[] block = new byte[_clusterSize];
        WriteEntry(block, 0, 1);
        _blocks[index] = block;
        _table[index] = (ulong)(cluster << _clusterBits);
        _dirtyBlocks.Add(index);
        _dirtyTableEntries.Add(index);
        _endCluster = Math.Max(_endCluster, cluster + 1);
        return block;
    }

    /// <summary>
    /// Moves the refcount table to a bigger area at the end of the file: [new blocks for the area][new table],
    /// written and flushed before the header points at it; the old table's clusters are freed afterwards.
    /// </summary>
    private void GrowTable(long minEntries)
    {
        long entriesPerCluster = _clusterSize / 8;
        long newEntries = Math.Max(minEntries, _table.Length + (_table.Length / 2)) + entriesPerCluster;
        long a = _endCluster;
        long missing;
        long tableClusters;
        while (true)
        {
            newEntries = (newEntries + entriesPerCluster - 1) / entriesPerCluster * entriesPerCluster;
            tableClusters = newEntries / entriesPerCluster;
            missing = 0;
            long total = tableClusters;
            for (int iter = 0; iter < 8; iter++)
            {
                missing = CountMissingBlocks(a, total);
                if (tableClusters + missing == total)
                {
                    break;
                }
                total = tableClusters + missing;
            }
            long last = (a + total - 1) >> _blockEntriesBits;
            if (last < newEntries)
            {
                break;
            }
            newEntries = last + 1;
        }
        if (newEntries * 8 > MaxRefcountTableBytes)
        {
            throw new ImageException(ImageErrorKind.InvalidField, _path, "refcount_table_clusters", "the refcount table would exceed QEMU's 8 MiB limit");
        }
        ulong[] old = _table;
        long oldOffset = _header.RefcountTableOffset;
        int oldClusters = _header.RefcountTableClusters;
        var table = new ulong[newEntries];
        Array.Copy(old, table, old.Length);
        _table = table;
        long next = a;
        long areaTotal = tableClusters + missing;
        for (long i = a >> _blockEntriesBits; i <= (a + areaTotal - 1) >> _blockEntriesBits; i++)
        {
            if (!_blocks.ContainsKey(i) && (i >= old.Length || old[i] == 0))
            {
                _blocks[i] = new byte[_clusterSize];
                _table[i] = (ulong)(next << _clusterBits);
                _dirtyBlocks.Add(i);
                next++;
            }
        }
        long tableStart = next;
        _endCluster = Math.Max(_endCluster, a + areaTotal);
        for (long c = a; c < a + areaTotal; c++)
        {
            Set(c, 1);
        }
        // Blocks first, then the table that points at them, then the header that points at the table.
        _dirtyTableEntries.Clear();
        foreach (long index in _dirtyBlocks.Order())
        {
            RandomAccess.Write(_file, _blocks[index], BlockOffset(index));
        }
        _dirtyBlocks.Clear();
        byte[] raw = new byte[tableClusters << _clusterBits];
        Qcow2Tables.Encode(_table, raw);
        RandomAccess.Write(_file, raw, tableStart << _clusterBits);
        Sync();
        _header.RefcountTableOffset = tableStart << _clusterBits;
        _header.RefcountTableClusters = (int)tableClusters;
        Span<byte> fields = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64BigEndian(fields, (ulong)_header.RefcountTableOffset);
        BinaryPrimitives.WriteUInt32BigEndian(fields[8..], (uint)tableClusters);
        RandomAccess.Write(_file, fields, RefcountTableOffsetOffset);
        Sync();
        _fileLength = Math.Max(_fileLength, _endCluster << _clusterBits);
        for (long c = oldOffset >> _clusterBits; c < (oldOffset >> _clusterBits) + oldClusters; c++)
        {
            Add(c, -1);
        }
    }

    private long CountMissingBlocks(long start, long count)
    {
        long missing = 0;
        for (long i = start >> _blockEntriesBits; i <= (start + count - 1) >> _blockEntriesBits; i++)
        {
            if (!_blocks.ContainsKey(i) && (i >= _table.Length || _table[i] == 0))
            {
                missing++;
            }
        }
        return missing;
    }

    private ulong ReadEntry(byte[] block, int index)
    {
        switch (_refcountBits)
        {
            case 64: return BinaryPrimitives.ReadUInt64BigEndian(block.AsSpan(index * 8));
            case 32: return BinaryPrimitives.ReadUInt32BigEndian(block.AsSpan(index * 4));
            case 16: return BinaryPrimitives.ReadUInt16BigEndian(block.AsSpan(index * 2));
            case 8: return block[index];
            default:
                int perByte = 8 / _refcountBits;
                int shift = index % perByte * _refcountBits;
                return (ulong)((block[index / perByte] >> shift) & (int)_maxRefcount);
        }
    }

    private void WriteEntry(byte[] block, int index, ulong value)
    {
        switch (_refcountBits)
        {
            case 64: BinaryPrimitives.WriteUInt64BigEndian(block.AsSpan(index * 8), value); break;
            case 32: BinaryPrimitives.WriteUInt32BigEndian(block.AsSpan(index * 4), (uint)value); break;
            case 16: BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(index * 2), (ushort)value); break;
            case 8: block[index] = (byte)value; break;
            default:
                int perByte = 8 / _refcountBits;
                int shift = index % perByte * _refcountBits;
                int mask = (int)_maxRefcount << shift;
                block[index / perByte] = (byte)((block[index / perByte] & ~mask) | ((int)value << shift));
                break;
        }
    }
}
