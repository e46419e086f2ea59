using static VirtioScope.Images.Qcow2.Qcow2Layout;

namespace VirtioScope.Images.Qcow2;

/// <summary>What a guest cluster (or subcluster) maps to.</summary>
internal enum ClusterState
{
    Unallocated,
    Zero,
    Normal,
    Compressed,
}

/// <summary>Decoding of L2 entries and compressed cluster descriptors.</summary>
internal readonly struct Qcow2Geometry
{
    public Qcow2Geometry(int clusterBits, bool extendedL2)
    {
        ClusterBits = clusterBits;
        ExtendedL2 = extendedL2;
        CompressedOffsetBits = 62 - (clusterBits - 8);
        L2Bits = clusterBits - (extendedL2 ? 4 : 3);
    }

    public int ClusterBits { get; }
    public bool ExtendedL2 { get; }
    public int CompressedOffsetBits { get; }
    public int L2Bits { get; }
    public int ClusterSize => 1 << ClusterBits;
    public int L2Entries => 1 << L2Bits;
    public int SubclusterSize => ExtendedL2 ? ClusterSize / SubclustersPerCluster : ClusterSize;

    public static long HostOffset(ulong entry) => (long)(entry & OffsetMask);

    /// <summary>Byte offset and length of a compressed cluster's data (the length covers whole sectors).</summary>
    public (long Offset, int Length) Compressed(ulong entry)
    {
        ulong offsetMask = (1UL << CompressedOffsetBits) - 1;
        long offset = (long)(entry & offsetMask);
        long sectors = (long)((entry & ~FlagCompressed & ~FlagCopied) >> CompressedOffsetBits) + 1;
        long length = (sectors * 512) - (offset & 511);
        return (offset, (int)length);
    }

    /// <summary>Builds a compressed descriptor for data at <paramref name="offset"/> of <paramref name="length"/> bytes.</summary>
    public ulong CompressedEntry(long offset, int length)
    {
        long sectors = ((offset + length - 1) >> 9) - (offset >> 9);
        return FlagCompressed | ((ulong)sectors << CompressedOffsetBits) | (ulong)offset;
    }

    /// <summary>Clusters a compressed cluster's sectors touch.</summary>
    public (long First, long Last) CompressedClusters(ulong entry)
    {
        (long offset, int length) = Compressed(entry);
        long start = offset & ~511L;
        long end = offset + length - 1;
        return (start >> ClusterBits, end >> ClusterBits);
    }

    /// <summary>The state of subcluster <paramref name="sub"/> (0 for standard L2 entries).</summary>
    public static ClusterState State(ulong entry, ulong bitmap, int sub, bool extended)
    {
        if ((entry & FlagCompressed) != 0)
        {
            return ClusterState.Compressed;
        }
        if (extended)
        {
            if (((bitmap >> sub) & 1) != 0)
            {
                return ClusterState.Normal;
            }
            return ((bitmap >> (32 + sub)) & 1) != 0 ? ClusterState.Zero : ClusterState.Unallocated;
        }
        if ((entry & FlagZero) != 0)
        {
            return ClusterState.Zero;
        }
        return HostOffset(entry) != 0 || (entry & FlagCopied) != 0 ? ClusterState.Normal : ClusterState.Unallocated;
    }
}
