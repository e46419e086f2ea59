using System.Buffers.Binary;
using static VirtioScope.Images.Qcow2.Qcow2Layout;

namespace VirtioScope.Images.Qcow2;

public sealed partial class Qcow2Image : ICheckableImage
{
    /// <inheritdoc />
    public CheckReport Check(CheckRepair repair)
    {
        lock (_lock)
        {
            FlushMetadataLocked();
            CheckReport first = CheckLocked(repair == CheckRepair.None || IsReadOnly ? CheckRepair.None : repair);
            if (repair == CheckRepair.None || IsReadOnly)
            {
                return first;
            }
            if (first.Leaks == 0 && first.Corruptions == 0)
            {
                MarkCleanAfterRepairLocked(first);
                return first;
            }
            CheckReport after = CheckLocked(CheckRepair.None);
            after.LeaksFixed = Math.Max(0, first.Leaks - after.Leaks);
            after.CorruptionsFixed = Math.Max(0, first.Corruptions - after.Corruptions);
            foreach (string m in first.Messages)
            {
                after.Messages.Insert(after.Messages.Count, m);
            }
            MarkCleanAfterRepairLocked(after);
            return after;
        }
    }

    // As qemu-img: a repair that leaves no corruption makes a dirty (lazy refcounts) image clean.
    private void MarkCleanAfterRepairLocked(CheckReport report)
    {
        if (report.Corruptions == 0 && report.CheckErrors == 0 && (_header.IncompatibleFeatures & IncompatDirty) != 0)
        {
            _header.IncompatibleFeatures &= ~IncompatDirty;
            WriteHeaderField(IncompatibleFeaturesOffset, _header.IncompatibleFeatures);
            Sync(_file);
        }
    }

    private sealed class RefScan
    {
        public required long Clusters;
        public required ulong[] References;
        public required CheckReport Report;
        public required string Path;

        public void Count(long offset, long length, string what)
        {
            if (length <= 0)
            {
                return;
            }
            long cs = 1L << ClusterBits;
            for (long c = offset / cs; c <= (offset + length - 1) / cs; c++)
            {
                if (c >= Clusters || c < 0)
                {
                    Report.Corruptions++;
                    Report.Messages.Add($"ERROR {what} at offset 0x{offset:x} lies outside the image");
                    return;
                }
                References[c]++;
            }
        }

        public required int ClusterBits;
    }

    private CheckReport CheckLocked(CheckRepair repair)
    {
        var report = new CheckReport();
        int cs = _header.ClusterSize;
        long fileLength = RandomAccess.GetLength(_file);
        long clusters = (fileLength + cs - 1) / cs;
        var scan = new RefScan { Clusters = clusters, References = new ulong[clusters], Report = report, Path = FilePath, ClusterBits = _geo.ClusterBits };
        report.TotalClusters = (VirtualSize + cs - 1) / cs;
        try
        {
            scan.Count(0, cs, "header");
            scan.Count(_header.L1TableOffset, (long)_header.L1Size * 8, "L1 table");
            scan.Count(_header.RefcountTableOffset, (long)_header.RefcountTableClusters * cs, "refcount table");
            scan.Count(_header.SnapshotsOffset, _snapshotTableBytes, "snapshot table");
            ulong[] refTable = ReadTableRaw(_header.RefcountTableOffset, _header.RefcountTableClusters * cs / 8);
            var blocks = new Dictionary<long, byte[]?>();
            for (int i = 0; i < refTable.Length; i++)
            {
                long off = (long)refTable[i];
                if (off == 0)
                {
                    continue;
                }
                if (off <= 0 || off % cs != 0 || off > fileLength - cs)
                {
                    report.Corruptions++;
                    report.Messages.Add($"ERROR refcount block {i} at offset 0x{off:x} is unaligned or outside the image");
                    blocks[i] = null;
                    continue;
                }
                scan.Count(off, cs, "refcount block");
            }
            WalkL1(_l1, scan, active: true);
            foreach (Qcow2Snapshot s in _snapshots)
            {
                scan.Count(s.L1Offset, (long)s.L1Size * 8, $"snapshot '{s.Name}' L1 table");
                WalkL1(ReadTableRaw(s.L1Offset, s.L1Size), scan, active: false);
            }
            CountBitmaps(scan, fileLength, report);
            int blockBits = _geo.ClusterBits + 3 - _header.RefcountOrder;
            ulong Refcount(long c)
            {
                long bi = c >> blockBits;
                if (bi >= refTable.Length || refTable[bi] == 0 || (blocks.TryGetValue(bi, out byte[]? known) && known is null))
                {
                    return 0;
                }
                if (!blocks.TryGetValue(bi, out byte[]? block))
                {
                    block = new byte[cs];
                    Raw.HostFile.ReadFull(_file, block, (long)refTable[bi]);
                    blocks[bi] = block;
                }
                return block is null ? 0 : RawRefcount(block, (int)(c & ((1L << blockBits) - 1)), _header.RefcountBits);
            }
            long highest = -1;
            var fixes = new List<(long Cluster, ulong Value)>();
            for (long c = 0; c < clusters; c++)
            {
                ulong rc = Refcount(c);
                ulong refs = scan.References[c];
                if (rc > 0 || refs > 0)
                {
                    highest = c;
                }
                if (rc == refs)
                {
                    continue;
                }
                if (rc > refs)
                {
                    report.Leaks++;
                    report.Messages.Add($"Leaked cluster {c} refcount={rc} reference={refs}");
                    if (repair != CheckRepair.None)
                    {
                        fixes.Add((c, refs));
                    }
                }
                else
                {
                    report.Corruptions++;
                    report.Messages.Add($"ERROR cluster {c} refcount={rc} reference={refs}");
                    if (repair == CheckRepair.All)
                    {
                        fixes.Add((c, refs));
                    }
                }
            }
            report.ImageEndOffset = (highest + 1) * cs;
            int copied = CheckCopiedFlags(Refcount, report);
            if (_refcounts is not null && (fixes.Count > 0 || (copied > 0 && repair == CheckRepair.All)))
            {
                ApplyRepairs(fixes, Refcount);
            }
        }
        catch (Exception e) when (e is ImageException or IOException or ArgumentException)
        {
            report.CheckErrors++;
            report.Messages.Add($"ERROR: check could not finish: {e.Message}");
        }
        return report;
    }

    private void ApplyRepairs(List<(long Cluster, ulong Value)> fixes, Func<long, ulong> refcount)
    {
        // Raise refcounts first so nothing referenced is ever counted free, then lower leaked ones, then fix flags.
        foreach ((long c, ulong v) in fixes.Where(f => f.Value > refcount(f.Cluster)))
        {
            _refcounts!.Set(c, v);
        }
        _refcounts!.WriteDirty();
        Sync(_file);
        foreach ((long c, ulong v) in fixes.Where(f => f.Value <= refcount(f.Cluster)))
        {
            _refcounts.Set(c, v);
        }
        _refcounts.WriteDirty();
        Sync(_file);
        _l2Cache.Clear();
        FixCopiedFlagsLocked();
        FlushMetadataLocked();
    }

    private int CheckCopiedFlags(Func<long, ulong> refcount, CheckReport report)
    {
        int mismatches = 0;
        for (int i = 0; i < _l1.Length; i++)
        {
            long l2 = Qcow2Geometry.HostOffset(_l1[i]);
            if (l2 == 0 || l2 % _header.ClusterSize != 0 || l2 >= RandomAccess.GetLength(_file))
            {
                continue;
            }
            ulong rc = refcount(l2 >> _geo.ClusterBits);
            if ((rc == 1) != ((_l1[i] & FlagCopied) != 0))
            {
                report.Corruptions++;
                report.Messages.Add($"ERROR OFLAG_COPIED L2 cluster: l1_index={i} l1_entry={_l1[i]:x} refcount={rc}");
                mismatches++;
            }
            ulong[] table = ReadTableRaw(l2, _header.ClusterSize / 8);
            int step = _geo.ExtendedL2 ? 2 : 1;
            for (int j = 0; j < table.Length; j += step)
            {
                ulong e = table[j];
                long host = Qcow2Geometry.HostOffset(e);
                if ((e & FlagCompressed) != 0 || host == 0 || _header.HasDataFile)
                {
                    continue;
                }
                ulong drc = refcount(host >> _geo.ClusterBits);
                if ((drc == 1) != ((e & FlagCopied) != 0))
                {
                    report.Corruptions++;
                    report.Messages.Add($"ERROR OFLAG_COPIED data cluster: l2_entry={e:x} refcount={drc}");
                    mismatches++;
                }
            }
        }
        return mismatches;
    }

    private void WalkL1(ulong[] l1, RefScan scan, bool active)
    {
        int cs = _header.ClusterSize;
        long fileLength = RandomAccess.GetLength(_file);
        long lastHost = -1;
        for (int i = 0; i < l1.Length; i++)
        {
            long l2 = Qcow2Geometry.HostOffset(l1[i]);
            if (l2 == 0)
            {
                continue;
            }
            if (l2 % cs != 0 || l2 > fileLength - cs)
            {
                scan.Report.Corruptions++;
                scan.Report.Messages.Add($"ERROR l2_offset={l2:x}: L2 table is unaligned or outside the image (L1 index {i})");
                continue;
            }
            scan.Count(l2, cs, "L2 table");
            ulong[] table = ReadTableRaw(l2, cs / 8);
            int step = _geo.ExtendedL2 ? 2 : 1;
            for (int j = 0; j < table.Length; j += step)
            {
                ulong e = table[j];
                if ((e & FlagCompressed) != 0)
                {
                    (long off, int len) = _geo.Compressed(e);
                    scan.Count(off & ~511L, len + (off & 511), "compressed cluster");
                    if (active)
                    {
                        scan.Report.AllocatedClusters++;
                        scan.Report.CompressedClusters++;
                        // qemu-img counts compressed clusters as fragmented by nature.
                        scan.Report.FragmentedClusters++;
                    }
                    continue;
                }
                long host = Qcow2Geometry.HostOffset(e);
                if (host == 0)
                {
                    continue;
                }
                if (host % cs != 0)
                {
                    scan.Report.Corruptions++;
                    scan.Report.Messages.Add($"ERROR offset={host:x}: Cluster is not properly aligned; L2 entry corrupted.");
                    continue;
                }
                if (!_header.HasDataFile)
                {
                    scan.Count(host, cs, "data cluster");
                }
                if (active)
                {
                    scan.Report.AllocatedClusters++;
                    if (lastHost >= 0 && host != lastHost + cs)
                    {
                        scan.Report.FragmentedClusters++;
                    }
                    lastHost = host;
                }
            }
        }
    }

    // Persistent bitmaps own their directory, tables and data clusters; without counting them every one is a "leak",
    // and a repair would free clusters the bitmaps still point at.
    private void CountBitmaps(RefScan scan, long fileLength, CheckReport report)
    {
        Qcow2Bitmaps? bitmaps;
        try
        {
            bitmaps = Qcow2Bitmaps.Read(_header, _file, fileLength, FilePath);
        }
        catch (ImageException e)
        {
            report.Corruptions++;
            report.Messages.Add($"ERROR bitmaps: {e.Message}");
            return;
        }
        if (bitmaps is null)
        {
            return;
        }
        int cs = _header.ClusterSize;
        scan.Count(bitmaps.DirectoryOffset, bitmaps.DirectorySize, "bitmap directory");
        foreach (Qcow2Bitmaps.Bitmap b in bitmaps.Items)
        {
            scan.Count(b.TableOffset, (long)b.TableSize * 8, $"bitmap '{b.Name}' table");
            foreach (long data in Qcow2Bitmaps.DataClusters(ReadTableRaw(b.TableOffset, (int)b.TableSize)))
            {
                scan.Count(data, cs, $"bitmap '{b.Name}' data cluster");
            }
        }
    }

    private ulong[] ReadTableRaw(long offset, int entries)
    {
        byte[] raw = new byte[entries * 8L];
        Raw.HostFile.ReadFull(_file, raw, offset);
        var t = new ulong[entries];
        for (int i = 0; i < entries; i++)
        {
            t[i] = BinaryPrimitives.ReadUInt64BigEndian(raw.AsSpan(i * 8));
        }
        return t;
    }

    private static ulong RawRefcount(byte[] block, int index, int bits) => bits switch
    {
        64 => BinaryPrimitives.ReadUInt64BigEndian(block.AsSpan(index * 8)),
        32 => BinaryPrimitives.ReadUInt32BigEndian(block.AsSpan(index * 4)),
        16 => BinaryPrimitives.ReadUInt16BigEndian(block.AsSpan(index * 2)),
        8 => block[index],
        _ => (ulong)((block[index / (8 / bits)] >> (index % (8 / bits) * bits)) & ((1 << bits) - 1)),
    };

    /// <summary>Sets bit 63 of active L1 and L2 entries exactly where the refcount is one (after snapshot changes).</summary>
    private void FixCopiedFlagsLocked()
    {
        Qcow2Refcounts rc = _refcounts!;
        for (int i = 0; i < _l1.Length; i++)
        {
            long l2 = Qcow2Geometry.HostOffset(_l1[i]);
            if (l2 == 0)
            {
                continue;
            }
            bool l2Owned = rc.Get(l2 >> _geo.ClusterBits) == 1;
            ulong newL1 = l2Owned ? _l1[i] | FlagCopied : _l1[i] & ~FlagCopied;
            if (newL1 != _l1[i])
            {
                _l1[i] = newL1;
                _l1Dirty = true;
            }
            ulong[] table = GetL2Locked(i)!;
            int step = _geo.ExtendedL2 ? 2 : 1;
            bool changed = false;
            for (int j = 0; j < table.Length; j += step)
            {
                ulong e = table[j];
                long host = Qcow2Geometry.HostOffset(e);
                if ((e & FlagCompressed) != 0 || host == 0 || _header.HasDataFile)
                {
                    continue;
                }
                ulong ne = rc.Get(host >> _geo.ClusterBits) == 1 ? e | FlagCopied : e & ~FlagCopied;
                if (ne != e)
                {
                    table[j] = ne;
                    changed = true;
                }
            }
            if (changed)
            {
                // Flags in a shared L2 table may be rewritten in place: it is only reachable read-only from snapshots then.
                _dirtyL2.Add(l2);
            }
        }
    }
}
