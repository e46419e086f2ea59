using System.Buffers;
using System.Buffers.Binary;
using VirtioScope.Block;
using static VirtioScope.Images.Qcow2.Qcow2Layout;

namespace VirtioScope.Images.Qcow2;

public sealed partial class Qcow2Image
{
    /// <inheritdoc />
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        ThrowIfReadOnly();
        CheckRange(offset, source.Length);
        int cs = _header.ClusterSize;
        while (!source.IsEmpty)
        {
            long gc = offset >> _geo.ClusterBits;
            int inCluster = (int)(offset & (cs - 1));
            if (inCluster == 0 && source.Length >= cs)
            {
                int done = WriteFullClusters(gc, source);
                if (done > 0)
                {
                    source = source[done..];
                    offset += done;
                    continue;
                }
            }
            int n = Math.Min(cs - inCluster, source.Length);
            WriteCluster(gc, inCluster, source[..n]);
            source = source[n..];
            offset += n;
        }
    }

    /// <summary>Whether a write may overwrite the cluster in place: owned (refcount 1), not compressed, every touched subcluster allocated.</summary>
    private bool CanWriteInPlace(ulong entry, ulong bitmap, int inCluster, int length)
    {
        if ((entry & FlagCompressed) != 0 || (entry & FlagCopied) == 0 || (entry & FlagZero) != 0)
        {
            return false;
        }
        if (!_geo.ExtendedL2)
        {
            return true;
        }
        int sub = _geo.SubclusterSize;
        for (int s = inCluster / sub; s <= (inCluster + length - 1) / sub; s++)
        {
            if (((bitmap >> s) & 1) == 0)
            {
                return false;
            }
        }
        return true;
    }

    // Fast path for whole clusters that need a fresh allocation: one contiguous allocation, one data write.
    private int WriteFullClusters(long gc, ReadOnlySpan<byte> source)
    {
        int cs = _header.ClusterSize;
        int max = Math.Min(source.Length / cs, _geo.L2Entries - (int)(gc & (_geo.L2Entries - 1)));
        lock (_lock)
        {
            int count = 0;
            while (count < max)
            {
                (ulong entry, ulong bitmap) = LookupLocked(gc + count);
                bool fresh = (entry & ~FlagZero) == 0 && (!_geo.ExtendedL2 || entry == 0);
                if (!fresh || (_geo.ExtendedL2 && bitmap != 0 && entry != 0))
                {
                    break;
                }
                count++;
            }
            if (count == 0)
            {
                return 0;
            }
            (long host, count) = AllocateDataRunLocked(gc, count);
            RandomAccess.Write(_data, source[..(count * cs)], host);
            ulong[] table = GetL2ForWriteLocked(gc >> _geo.L2Bits);
            for (int k = 0; k < count; k++)
            {
                SetEntryLocked(table, gc + k, (ulong)(host + ((long)k * cs)) | FlagCopied, _geo.ExtendedL2 ? SubclusterAllocMask : 0);
            }
            return count * cs;
        }
    }

    private void WriteCluster(long gc, int inCluster, ReadOnlySpan<byte> source)
    {
        ulong entry, bitmap;
        lock (_lock)
        {
            (entry, bitmap) = LookupLocked(gc);
        }
        ValidateEntry(entry, gc);
        if (CanWriteInPlace(entry, bitmap, inCluster, source.Length))
        {
            RandomAccess.Write(_data, source, Qcow2Geometry.HostOffset(entry) + inCluster);
            return;
        }
        int cs = _header.ClusterSize;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(cs);
        try
        {
            lock (_lock)
            {
                (entry, bitmap) = LookupLocked(gc);
                Span<byte> cluster = buffer.AsSpan(0, cs);
                if (source.Length < cs)
                {
                    // Copy-on-write: start from what the cluster reads as now (backing file, compressed data, zeroes...).
                    ReadFromEntry(gc, entry, bitmap, 0, cluster);
                }
                source.CopyTo(cluster[inCluster..]);
                bool owned = (entry & FlagCompressed) == 0 && (entry & FlagCopied) != 0;
                ulong[] table = GetL2ForWriteLocked(gc >> _geo.L2Bits);
                if (owned)
                {
                    // Our own cluster, only partly allocated (subclusters) or flagged zero: fill it and mark it all data.
                    long host = Qcow2Geometry.HostOffset(entry);
                    RandomAccess.Write(_data, cluster, host);
                    SetEntryLocked(table, gc, (ulong)host | FlagCopied, _geo.ExtendedL2 ? SubclusterAllocMask : 0);
                    return;
                }
                long fresh = AllocateDataLocked(gc, 1);
                RandomAccess.Write(_data, cluster, fresh);
                SetEntryLocked(table, gc, (ulong)fresh | FlagCopied, _geo.ExtendedL2 ? SubclusterAllocMask : 0);
                ReleaseLocked(entry);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Host offset for <paramref name="count"/> new data clusters starting at guest cluster <paramref name="gc"/>.</summary>
    private long AllocateDataLocked(long gc, int count)
    {
        if (_header.HasDataFile)
        {
            // External data files map guest offsets one to one and are not refcounted.
            return gc << _geo.ClusterBits;
        }
        long first = _refcounts!.Allocate(count);
        long host = first << _geo.ClusterBits;
        _fileLength = Math.Max(_fileLength, host + ((long)count << _geo.ClusterBits));
        return host;
    }

    /// <summary>Like <see cref="AllocateDataLocked"/> but may return fewer clusters (at least one).</summary>
    private (long Host, int Count) AllocateDataRunLocked(long gc, int count)
    {
        if (_header.HasDataFile)
        {
            return (gc << _geo.ClusterBits, count);
        }
        (long first, int got) = _refcounts!.AllocateRun(count);
        long host = first << _geo.ClusterBits;
        _fileLength = Math.Max(_fileLength, host + ((long)got << _geo.ClusterBits));
        return (host, got);
    }

    private long AllocateMetadataLocked(int count)
    {
        long first = _refcounts!.Allocate(count);
        long host = first << _geo.ClusterBits;
        _fileLength = Math.Max(_fileLength, host + ((long)count << _geo.ClusterBits));
        return host;
    }

    /// <summary>Queues the release of what an old L2 entry pointed at; applied once the new mapping is on disk.</summary>
    private void ReleaseLocked(ulong oldEntry)
    {
        if (_header.HasDataFile)
        {
            return;
        }
        if ((oldEntry & FlagCompressed) != 0)
        {
            (long first, long last) = _geo.CompressedClusters(oldEntry);
            for (long c = first; c <= last; c++)
            {
                _pendingFrees.Add(c);
            }
            return;
        }
        long host = Qcow2Geometry.HostOffset(oldEntry);
        if (host != 0)
        {
            _pendingFrees.Add(host >> _geo.ClusterBits);
        }
    }

    /// <summary>The active L2 table for <paramref name="l1Index"/>, allocated or copied (if shared with a snapshot) so it can be changed.</summary>
    private ulong[] GetL2ForWriteLocked(long l1Index)
    {
        ulong l1e = _l1[l1Index];
        long offset = Qcow2Geometry.HostOffset(l1e);
        if (offset != 0 && (l1e & FlagCopied) != 0)
        {
            return GetL2Locked(l1Index)!;
        }
        EvictIfNeededLocked();
        ulong[] table = offset == 0 ? new ulong[_header.ClusterSize / 8] : (ulong[])GetL2Locked(l1Index)!.Clone();
        long fresh = AllocateMetadataLocked(1);
        _l2Cache[fresh] = table;
        _dirtyL2.Add(fresh);
        if (offset != 0)
        {
            _l2Cache.Remove(offset);
            _dirtyL2.Remove(offset);
            _pendingFrees.Add(offset >> _geo.ClusterBits);
        }
        _l1[l1Index] = (ulong)fresh | FlagCopied;
        _l1Dirty = true;
        return table;
    }

    private void SetEntryLocked(ulong[] table, long gc, ulong entry, ulong bitmap)
    {
        int i = (int)(gc & (_geo.L2Entries - 1));
        if (_geo.ExtendedL2)
        {
            table[2 * i] = entry;
            table[(2 * i) + 1] = bitmap;
        }
        else
        {
            table[i] = entry;
        }
        _dirtyL2.Add(Qcow2Geometry.HostOffset(_l1[gc >> _geo.L2Bits]));
    }

    /// <inheritdoc />
    public void Flush()
    {
        if (IsReadOnly || _disposed)
        {
            return;
        }
        lock (_lock)
        {
            FlushMetadataLocked();
        }
    }

    /// <summary>Writes metadata in dependency order: refcounts, (data), L2 tables, L1 table, then deferred frees.</summary>
    private void FlushMetadataLocked()
    {
        if (_refcounts is null)
        {
            return;
        }
        bool any = _refcounts.IsDirty || _dirtyL2.Count > 0 || _l1Dirty || _pendingFrees.Count > 0;
        if (!any)
        {
            return;
        }
        bool lazy = (_header.CompatibleFeatures & CompatLazyRefcounts) != 0;
        if (lazy)
        {
            // Lazy refcounts: mark the image dirty once and keep refcount updates in memory until a clean close; a
            // crash leaves a dirty image whose refcounts are rebuilt from the mapping on the next read-write open.
            MarkDirtyLocked();
        }
        else
        {
            _refcounts.WriteDirty();
        }
        if (!ReferenceEquals(_data, _file))
        {
            Sync(_data);
        }
        Sync(_file);
        if (_dirtyL2.Count > 0)
        {
            byte[] raw = ArrayPool<byte>.Shared.Rent(_header.ClusterSize);
            try
            {
                foreach (long offset in _dirtyL2.Order())
                {
                    ulong[] table = _l2Cache[offset];
                    Qcow2Tables.Encode(table, raw);
                    RandomAccess.Write(_file, raw.AsSpan(0, _header.ClusterSize), offset);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(raw);
            }
            _dirtyL2.Clear();
            Sync(_file);
        }
        if (_l1Dirty)
        {
            WriteL1Locked();
            _l1Dirty = false;
            Sync(_file);
        }
        if (_pendingFrees.Count > 0)
        {
            foreach (long cluster in _pendingFrees)
            {
                _refcounts.Add(cluster, -1);
            }
            // The cluster compressed data was being packed into may have just been freed and could be handed out
            // for data: start packing in a fresh cluster.
            _compressedCursor = 0;
            _pendingFrees.Clear();
            if (!lazy)
            {
                _refcounts.WriteDirty();
                Sync(_file);
            }
        }
    }

    private void MarkDirtyLocked()
    {
        if ((_header.IncompatibleFeatures & IncompatDirty) != 0)
        {
            return;
        }
        _header.IncompatibleFeatures |= IncompatDirty;
        WriteHeaderField(IncompatibleFeaturesOffset, _header.IncompatibleFeatures);
        Sync(_file);
        _dirtiedHere = true;
    }

    /// <summary>
    /// On a clean close of a lazy-refcounts image this session made dirty: refcounts to disk, then the dirty bit
    /// cleared. A bit found set at open (and not repaired) is left alone: its refcounts are still to be rebuilt.
    /// </summary>
    private void MarkCleanLocked()
    {
        if (_refcounts is null || !_dirtiedHere)
        {
            return;
        }
        _refcounts.WriteDirty();
        Sync(_file);
        _header.IncompatibleFeatures &= ~IncompatDirty;
        WriteHeaderField(IncompatibleFeaturesOffset, _header.IncompatibleFeatures);
        Sync(_file);
    }

    private void WriteL1Locked()
    {
        byte[] raw = new byte[_l1.Length * 8];
        Qcow2Tables.Encode(_l1, raw);
        RandomAccess.Write(_file, raw, _header.L1TableOffset);
    }

    /// <inheritdoc />
    public void Discard(long offset, long length)
    {
        ThrowIfReadOnly();
        CheckRange(offset, length);
        // Only whole clusters can be released; partial ones keep their data, which discard allows.
        ForEachWholeCluster(offset, length, gc => ChangeClusterLocked(gc, zero: false));
    }

    /// <inheritdoc />
    public void WriteZeroes(long offset, long length, ZeroingMode mode)
    {
        ThrowIfReadOnly();
        CheckRange(offset, length);
        int cs = _header.ClusterSize;
        long end = offset + length;
        long firstWhole = (offset + cs - 1) & ~(long)(cs - 1);
        long lastWhole = end & ~(long)(cs - 1);
        if (firstWhole >= lastWhole)
        {
            WriteZeroBytes(offset, length);
            return;
        }
        WriteZeroBytes(offset, firstWhole - offset);
        WriteZeroBytes(lastWhole, end - lastWhole);
        bool zeroFlag = _header.Version >= 3;
        for (long gc = firstWhole >> _geo.ClusterBits; gc < lastWhole >> _geo.ClusterBits; gc++)
        {
            if (zeroFlag || _backing is null)
            {
                long cluster = gc;
                lock (_lock)
                {
                    ChangeClusterLocked(cluster, zero: zeroFlag);
                }
            }
            else
            {
                WriteZeroBytes(gc << _geo.ClusterBits, cs);
            }
        }
    }

    private void WriteZeroBytes(long offset, long length)
    {
        if (length <= 0)
        {
            return;
        }
        byte[] zeros = ArrayPool<byte>.Shared.Rent((int)Math.Min(length, 1 << 20));
        try
        {
            Array.Clear(zeros);
            while (length > 0)
            {
                int n = (int)Math.Min(length, zeros.Length);
                Write(offset, zeros.AsSpan(0, n));
                offset += n;
                length -= n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(zeros);
        }
    }

    private void ForEachWholeCluster(long offset, long length, Action<long> action)
    {
        int cs = _header.ClusterSize;
        long first = (offset + cs - 1) >> _geo.ClusterBits;
        long last = (offset + length) >> _geo.ClusterBits;
        for (long gc = first; gc < last; gc++)
        {
            lock (_lock)
            {
                action(gc);
            }
        }
    }

    /// <summary>Makes a whole guest cluster unallocated or zero, releasing what it pointed at.</summary>
    private void ChangeClusterLocked(long gc, bool zero)
    {
        (ulong entry, ulong bitmap) = LookupLocked(gc);
        ulong newEntry = zero && !_geo.ExtendedL2 ? FlagZero : 0;
        ulong newBitmap = zero && _geo.ExtendedL2 ? ~SubclusterAllocMask : 0;
        if (entry == newEntry && bitmap == newBitmap)
        {
            return;
        }
        if (entry == 0 && bitmap == 0 && !zero && _l1[gc >> _geo.L2Bits] == 0)
        {
            return;
        }
        ulong[] table = GetL2ForWriteLocked(gc >> _geo.L2Bits);
        SetEntryLocked(table, gc, newEntry, newBitmap);
        ReleaseLocked(entry);
    }
}
