using System.Buffers.Binary;
using System.Text;
using static VirtioScope.Images.Qcow2.Qcow2Layout;

namespace VirtioScope.Images.Qcow2;

public sealed partial class Qcow2Image
{
    private static readonly (byte Type, byte Bit, string Name)[] FeatureTable =
    [
        (0, 0, "dirty bit"), (0, 1, "corrupt bit"), (0, 2, "external data file"), (0, 3, "compression type"),
        (0, 4, "extended L2 entries"), (1, 0, "lazy refcounts"), (2, 0, "bitmaps"), (2, 1, "raw external data"),
    ];

    /// <summary>
    /// Creates a qcow2 image: header, refcount table, one refcount block and the L1 table, written and flushed
    /// before the file is handed out. The backing file (if any) must already be resolvable.
    /// </summary>
    internal static void Create(string path, ImageCreateOptions o, long size, ImageFormat backingFormat)
    {
        int clusterBits = System.Numerics.BitOperations.Log2((uint)o.ClusterSize);
        if (o.ClusterSize <= 0 || (1 << clusterBits) != o.ClusterSize || clusterBits is < MinClusterBits or > MaxClusterBits)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, path, "cluster_size", "must be a power of two between 512 and 2M");
        }
        if (o.Version is not (2 or 3))
        {
            throw new ImageException(ImageErrorKind.InvalidOption, path, "compat", "must be 0.10 or 1.1");
        }
        int refcountOrder = System.Numerics.BitOperations.Log2((uint)o.RefcountBits);
        if (o.RefcountBits <= 0 || (1 << refcountOrder) != o.RefcountBits || refcountOrder > 6)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, path, "refcount_bits", "must be a power of two up to 64");
        }
        if (o.Version == 2 && (refcountOrder != 4 || o.ExtendedL2 || o.LazyRefcounts || o.Compression != CompressionType.Zlib || o.DataFile is not null))
        {
            throw new ImageException(ImageErrorKind.InvalidOption, path, "compat", "compat=0.10 supports only refcount_bits=16 and none of lazy_refcounts, extended_l2, zstd, data_file");
        }
        if (o.ExtendedL2 && clusterBits < MinExtendedL2ClusterBits)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, path, "extended_l2", "needs a cluster size of at least 16k");
        }
        if (o.DataFile is not null && o.BackingFile is not null)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, path, "data_file", "an external data file cannot be combined with a backing file here");
        }
        int cs = o.ClusterSize;
        long l1Entries = Qcow2Header.RequiredL1Entries(size, clusterBits, o.ExtendedL2);
        if (l1Entries * 8 > MaxL1Bytes)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, path, "size", "too large for this cluster size (L1 table over 32 MiB)");
        }
        long l1Clusters = Math.Max(1, (l1Entries * 8 + cs - 1) / cs);
        var h = new Qcow2Header
        {
            Version = o.Version,
            ClusterBits = clusterBits,
            Size = size,
            L1Size = (int)l1Entries,
            RefcountTableOffset = cs,
            RefcountOrder = refcountOrder,
            HeaderLength = o.Version >= 3 ? V3HeaderLength : V2HeaderLength,
            CompressionType = o.Compression,
            BackingFile = o.BackingFile,
        };
        if (o.Compression != CompressionType.Zlib)
        {
            h.IncompatibleFeatures |= IncompatCompression;
        }
        if (o.ExtendedL2)
        {
            h.IncompatibleFeatures |= IncompatExtendedL2;
        }
        if (o.LazyRefcounts)
        {
            h.CompatibleFeatures |= CompatLazyRefcounts;
        }
        if (o.BackingFile is not null && backingFormat != ImageFormat.Auto)
        {
            h.SetStringExtension(ExtBackingFormat, backingFormat.ToName());
        }
        if (o.DataFile is not null)
        {
            h.IncompatibleFeatures |= IncompatDataFile;
            h.SetStringExtension(ExtDataFile, o.DataFile);
            using var df = File.OpenHandle(BackingPath.Resolve(path, o.DataFile), FileMode.Create, FileAccess.ReadWrite);
            RandomAccess.SetLength(df, size);
        }
        if (o.Version >= 3)
        {
            byte[] names = new byte[FeatureTable.Length * FeatureTableEntrySize];
            for (int i = 0; i < FeatureTable.Length; i++)
            {
                names[i * FeatureTableEntrySize] = FeatureTable[i].Type;
                names[(i * FeatureTableEntrySize) + 1] = FeatureTable[i].Bit;
                Encoding.ASCII.GetBytes(FeatureTable[i].Name).CopyTo(names, (i * FeatureTableEntrySize) + 2);
            }
            h.Extensions.Add(new Qcow2HeaderExtension(ExtFeatureTable, names));
        }
        // Layout: header, refcount table, refcount blocks covering everything written here, L1 table.
        long blockEntries = (long)cs * 8 / o.RefcountBits;
        long blocks = 1, tableClusters = 1, total;
        while (true)
        {
            total = 1 + tableClusters + blocks + l1Clusters;
            long needBlocks = (total + blockEntries - 1) / blockEntries;
            long needTable = Math.Max(1, ((needBlocks * 8) + cs - 1) / cs);
            if (needBlocks == blocks && needTable == tableClusters)
            {
                break;
            }
            blocks = needBlocks;
            tableClusters = needTable;
        }
        if (tableClusters * cs > MaxRefcountTableBytes)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, path, "size", "too large for this cluster size (refcount table over 8 MiB)");
        }
        h.RefcountTableClusters = (int)tableClusters;
        h.L1TableOffset = (1 + tableClusters + blocks) * cs;
        byte[] header = h.Serialize();
        byte[] table = new byte[tableClusters * cs];
        for (long i = 0; i < blocks; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(table.AsSpan((int)(i * 8)), (ulong)((1 + tableClusters + i) * cs));
        }
        byte[] block = new byte[blocks * cs];
        for (long c = 0; c < total; c++)
        {
            SetRawRefcount(block, (int)c, o.RefcountBits, 1);
        }
        using (var file = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite))
        {
            RandomAccess.Write(file, table, cs);
            RandomAccess.Write(file, block, (1 + tableClusters) * cs);
            RandomAccess.Write(file, new byte[l1Clusters * cs], h.L1TableOffset);
            RandomAccess.FlushToDisk(file);
            RandomAccess.Write(file, header, 0);
            RandomAccess.FlushToDisk(file);
        }
    }

    private static void SetRawRefcount(byte[] block, int index, int bits, ulong value)
    {
        switch (bits)
        {
            case 64: BinaryPrimitives.WriteUInt64BigEndian(block.AsSpan(index * 8), value); break;
            case 32: BinaryPrimitives.WriteUInt32BigEndian(block.AsSpan(index * 4), (uint)value); break;
            case 16: BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(index * 2), (ushort)value); break;
            case 8: block[index] = (byte)value; break;
            default:
                int perByte = 8 / bits;
                block[index / perByte] |= (byte)((int)value << (index % perByte * bits));
                break;
        }
    }

    /// <summary>Allocates every guest cluster up front (preallocation=metadata/falloc/full).</summary>
    internal void Preallocate(Preallocation mode)
    {
        if (mode == Preallocation.Off)
        {
            return;
        }
        ThrowIfReadOnly();
        long clusters = (VirtualSize + _header.ClusterSize - 1) >> _geo.ClusterBits;
        lock (_lock)
        {
            for (long gc = 0; gc < clusters;)
            {
                int count = (int)Math.Min(clusters - gc, _geo.L2Entries - (gc & (_geo.L2Entries - 1)));
                ulong[] table = GetL2ForWriteLocked(gc >> _geo.L2Bits);
                (long host, count) = AllocateDataRunLocked(gc, count);
                for (int k = 0; k < count; k++)
                {
                    SetEntryLocked(table, gc + k, (ulong)(host + ((long)k << _geo.ClusterBits)) | FlagCopied, _geo.ExtendedL2 ? SubclusterAllocMask : 0);
                }
                long bytes = (long)count << _geo.ClusterBits;
                if (mode == Preallocation.Falloc)
                {
                    Raw.HostFile.TryFallocate(_data, 0, host, bytes);
                }
                else if (mode == Preallocation.Full)
                {
                    byte[] zeros = new byte[Math.Min(bytes, 1 << 20)];
                    for (long done = 0; done < bytes; done += zeros.Length)
                    {
                        RandomAccess.Write(_data, zeros.AsSpan(0, (int)Math.Min(zeros.Length, bytes - done)), host + done);
                    }
                }
                else if (RandomAccess.GetLength(_data) < host + bytes)
                {
                    RandomAccess.SetLength(_data, host + bytes);
                }
                gc += count;
            }
            FlushMetadataLocked();
        }
    }
}
