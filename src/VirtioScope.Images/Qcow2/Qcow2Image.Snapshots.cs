using System.Buffers.Binary;
using static VirtioScope.Images.Qcow2.Qcow2Layout;

namespace VirtioScope.Images.Qcow2;

public sealed partial class Qcow2Image : ISnapshotStore, IResizableImage
{
    /// <inheritdoc />
    public IReadOnlyList<SnapshotInfo> Snapshots
    {
        get
        {
            lock (_lock)
            {
                return _snapshots.Select(s => s.ToInfo()).ToList();
            }
        }
    }

    private Qcow2Snapshot FindSnapshot(string idOrName)
    {
        return _snapshots.FirstOrDefault(s => s.Id == idOrName) ?? _snapshots.FirstOrDefault(s => s.Name == idOrName)
            ?? throw new ImageException(ImageErrorKind.InvalidOption, FilePath, "snapshot", $"no snapshot with id or name '{idOrName}'");
    }

    /// <inheritdoc />
    public IDiskImage OpenSnapshot(string idOrName)
    {
        Qcow2Snapshot s;
        lock (_lock)
        {
            s = FindSnapshot(idOrName);
        }
        var file = File.OpenHandle(FilePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        Qcow2Header header = _header.Clone();
        header.Size = s.DiskSize;
        long needed = Qcow2Header.RequiredL1Entries(s.DiskSize, header.ClusterBits, header.ExtendedL2);
        if (s.L1Size < needed)
        {
            file.Dispose();
            throw new ImageException(ImageErrorKind.InvalidField, FilePath, $"snapshot '{s.Name}'", "L1 table is too small for the snapshot's disk size");
        }
        ulong[] l1 = ReadL1(file, s.L1Offset, s.L1Size);
        return new Qcow2Image(FilePath, file, file, null, header, l1, [], _backing, _fullBackingName, readOnly: true, RandomAccess.GetLength(file))
        {
            _ownsBacking = false,
        };
    }

    /// <inheritdoc />
    public void CreateSnapshot(string name)
    {
        ThrowIfReadOnly();
        RefuseWithDataFile();
        lock (_lock)
        {
            FlushMetadataLocked();
            if (_snapshots.Any(s => s.Name == name))
            {
                throw new ImageException(ImageErrorKind.InvalidOption, FilePath, "snapshot", $"a snapshot named '{name}' already exists");
            }
            int cs = _header.ClusterSize;
            int nextId = _snapshots.Select(s => int.TryParse(s.Id, out int id) ? id : 0).DefaultIfEmpty(0).Max() + 1;
            int l1Clusters = (int)Math.Max(1, ((_l1.Length * 8L) + cs - 1) / cs);
            long l1Offset = AllocateMetadataLocked(l1Clusters);
            byte[] raw = new byte[(long)l1Clusters * cs];
            Qcow2Tables.Encode(_l1, raw);
            RandomAccess.Write(_file, raw, l1Offset);
            AdjustTreeLocked(_l1, +1);
            _refcounts!.WriteDirty();
            Sync(_file);
            DateTimeOffset now = DateTimeOffset.UtcNow;
            var snapshot = new Qcow2Snapshot
            {
                L1Offset = l1Offset,
                L1Size = _l1.Length,
                Id = nextId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Name = name,
                DateSeconds = (uint)now.ToUnixTimeSeconds(),
                DateNanoseconds = (uint)(now.Ticks % TimeSpan.TicksPerSecond * 100),
                DiskSize = VirtualSize,
            };
            WriteSnapshotTableLocked([.. _snapshots, snapshot]);
            FixCopiedFlagsLocked();
            FlushMetadataLocked();
        }
    }

    /// <inheritdoc />
    public void DeleteSnapshot(string idOrName)
    {
        ThrowIfReadOnly();
        lock (_lock)
        {
            FlushMetadataLocked();
            Qcow2Snapshot s = FindSnapshot(idOrName);
            WriteSnapshotTableLocked(_snapshots.Where(x => x != s).ToList());
            // Nothing on disk names the snapshot any more: release its tree and L1 table.
            AdjustTreeLocked(ReadTableRaw(s.L1Offset, s.L1Size), -1);
            FreeClustersLocked(s.L1Offset, (long)s.L1Size * 8);
            _refcounts!.WriteDirty();
            Sync(_file);
            _l2Cache.Clear();
            FixCopiedFlagsLocked();
            FlushMetadataLocked();
        }
    }

    /// <inheritdoc />
    public void ApplySnapshot(string idOrName)
    {
        ThrowIfReadOnly();
        lock (_lock)
        {
            FlushMetadataLocked();
            Qcow2Snapshot s = FindSnapshot(idOrName);
            ulong[] snapL1 = ReadTableRaw(s.L1Offset, s.L1Size);
            AdjustTreeLocked(snapL1, +1);
            _refcounts!.WriteDirty();
            Sync(_file);
            ulong[] oldL1 = _l1;
            int size = (int)Math.Max(snapL1.Length, Qcow2Header.RequiredL1Entries(s.DiskSize, _header.ClusterBits, _header.ExtendedL2));
            var newL1 = new ulong[size];
            Array.Copy(snapL1, newL1, snapL1.Length);
            ReplaceL1Locked(newL1, s.DiskSize);
            AdjustTreeLocked(oldL1, -1);
            _refcounts.WriteDirty();
            Sync(_file);
            _l2Cache.Clear();
            _dirtyL2.Clear();
            FixCopiedFlagsLocked();
            FlushMetadataLocked();
        }
    }

    /// <inheritdoc />
    public void Resize(long newSize, ResizeMode mode)
    {
        ThrowIfReadOnly();
        if (newSize < 0)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, FilePath, "size", "new size must not be negative");
        }
        if (_hasBitmaps)
        {
            // Bitmap tables are sized for the virtual size; QEMU refuses too.
            throw new ImageException(ImageErrorKind.UnsupportedFeature, FilePath, "bitmaps", "cannot resize an image that has persistent bitmaps");
        }
        lock (_lock)
        {
            FlushMetadataLocked();
            long old = VirtualSize;
            if (newSize < old)
            {
                if (mode != ResizeMode.AllowShrink)
                {
                    throw new ImageException(ImageErrorKind.InvalidOption, FilePath, "size", "shrinking requires --shrink");
                }
                if (_snapshots.Count > 0)
                {
                    throw new ImageException(ImageErrorKind.UnsupportedFeature, FilePath, "size", "cannot shrink an image that has internal snapshots");
                }
                long firstWhole = (newSize + _header.ClusterSize - 1) >> _geo.ClusterBits;
                long last = (old + _header.ClusterSize - 1) >> _geo.ClusterBits;
                for (long gc = firstWhole; gc < last; gc++)
                {
                    ChangeClusterLocked(gc, zero: false);
                }
                FlushMetadataLocked();
            }
            long needed = Qcow2Header.RequiredL1Entries(newSize, _header.ClusterBits, _header.ExtendedL2);
            if (needed * 8 > MaxL1Bytes)
            {
                throw new ImageException(ImageErrorKind.InvalidOption, FilePath, "size", "too large for this cluster size (L1 table over 32 MiB)");
            }
            if (needed > _l1.Length)
            {
                var l1 = new ulong[needed];
                Array.Copy(_l1, l1, _l1.Length);
                ReplaceL1Locked(l1, newSize);
            }
            else
            {
                _header.Size = newSize;
                WriteHeaderField(SizeOffset, (ulong)newSize);
                Sync(_file);
            }
        }
    }

    /// <summary>Installs a new active L1 table (in place when it fits, else in new clusters) and the virtual size.</summary>
    private void ReplaceL1Locked(ulong[] l1, long virtualSize)
    {
        int cs = _header.ClusterSize;
        long capacity = Math.Max(1, ((_header.L1Size * 8L) + cs - 1) / cs) * cs / 8;
        long offset = _header.L1TableOffset;
        bool moved = l1.Length > capacity || offset == 0;
        if (moved)
        {
            offset = AllocateMetadataLocked((int)Math.Max(1, ((l1.Length * 8L) + cs - 1) / cs));
            _refcounts!.WriteDirty();
            Sync(_file);
        }
        byte[] raw = new byte[l1.Length * 8L];
        Qcow2Tables.Encode(l1, raw);
        RandomAccess.Write(_file, raw, offset);
        Sync(_file);
        long oldOffset = _header.L1TableOffset;
        int oldSize = _header.L1Size;
        Span<byte> fields = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32BigEndian(fields, (uint)l1.Length);
        BinaryPrimitives.WriteUInt64BigEndian(fields[4..], (ulong)offset);
        RandomAccess.Write(_file, fields, L1SizeOffset);
        WriteHeaderField(SizeOffset, (ulong)virtualSize);
        Sync(_file);
        _header.L1Size = l1.Length;
        _header.L1TableOffset = offset;
        _header.Size = virtualSize;
        _l1 = l1;
        _l1Dirty = false;
        if (moved && oldOffset != 0)
        {
            FreeClustersLocked(oldOffset, oldSize * 8L);
            _refcounts!.WriteDirty();
            Sync(_file);
        }
    }

    /// <summary>Writes a new snapshot table in fresh clusters, points the header at it, then frees the old one.</summary>
    private void WriteSnapshotTableLocked(List<Qcow2Snapshot> snapshots)
    {
        if (snapshots.Count > MaxSnapshots)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, FilePath, "nb_snapshots", "too many snapshots");
        }
        int cs = _header.ClusterSize;
        byte[] table = Qcow2Snapshot.WriteTable(snapshots);
        long offset = 0;
        if (table.Length > 0)
        {
            offset = AllocateMetadataLocked((table.Length + cs - 1) / cs);
            _refcounts!.WriteDirty();
            RandomAccess.Write(_file, table, offset);
            Sync(_file);
        }
        Span<byte> fields = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32BigEndian(fields, (uint)snapshots.Count);
        BinaryPrimitives.WriteUInt64BigEndian(fields[4..], (ulong)offset);
        RandomAccess.Write(_file, fields, NbSnapshotsOffset);
        Sync(_file);
        long oldOffset = _header.SnapshotsOffset;
        long oldBytes = _snapshotTableBytes;
        _header.NbSnapshots = snapshots.Count;
        _header.SnapshotsOffset = offset;
        _snapshots = snapshots;
        _snapshotTableBytes = table.Length;
        if (oldOffset != 0 && oldBytes > 0)
        {
            FreeClustersLocked(oldOffset, oldBytes);
        }
        _refcounts!.WriteDirty();
        Sync(_file);
    }

    private void FreeClustersLocked(long offset, long bytes)
    {
        if (bytes <= 0)
        {
            return;
        }
        for (long c = offset >> _geo.ClusterBits; c <= (offset + bytes - 1) >> _geo.ClusterBits; c++)
        {
            _refcounts!.Add(c, -1);
        }
    }

    /// <summary>Adds <paramref name="delta"/> to the refcount of every L2 table and data cluster an L1 table reaches.</summary>
    private void AdjustTreeLocked(ulong[] l1, int delta)
    {
        int cs = _header.ClusterSize;
        int step = _geo.ExtendedL2 ? 2 : 1;
        foreach (ulong l1e in l1)
        {
            long l2 = Qcow2Geometry.HostOffset(l1e);
            if (l2 == 0)
            {
                continue;
            }
            ulong[] table = _l2Cache.TryGetValue(l2, out ulong[]? cached) ? cached : ReadTableRaw(l2, cs / 8);
            for (int j = 0; j < table.Length; j += step)
            {
                ulong e = table[j];
                if ((e & FlagCompressed) != 0)
                {
                    (long first, long last) = _geo.CompressedClusters(e);
                    for (long c = first; c <= last; c++)
                    {
                        _refcounts!.Add(c, delta);
                    }
                    continue;
                }
                long host = Qcow2Geometry.HostOffset(e);
                if (host != 0 && !_header.HasDataFile)
                {
                    _refcounts!.Add(host >> _geo.ClusterBits, delta);
                }
            }
            _refcounts!.Add(l2 >> _geo.ClusterBits, delta);
        }
    }

    private void RefuseWithDataFile()
    {
        if (_header.HasDataFile)
        {
            throw new ImageException(ImageErrorKind.UnsupportedFeature, FilePath, "data file", "internal snapshots are not supported with an external data file");
        }
    }
}
