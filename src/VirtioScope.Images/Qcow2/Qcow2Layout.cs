namespace VirtioScope.Images.Qcow2;

/// <summary>Byte offsets of the qcow2 header fields and the format's constants (docs/interop/qcow2.txt).</summary>
internal static class Qcow2Layout
{
    public const uint Magic = 0x514649FB;
    public const int MagicOffset = 0;
    public const int VersionOffset = 4;
    public const int BackingFileOffsetOffset = 8;
    public const int BackingFileSizeOffset = 16;
    public const int ClusterBitsOffset = 20;
    public const int SizeOffset = 24;
    public const int CryptMethodOffset = 32;
    public const int L1SizeOffset = 36;
    public const int L1TableOffsetOffset = 40;
    public const int RefcountTableOffsetOffset = 48;
    public const int RefcountTableClustersOffset = 56;
    public const int NbSnapshotsOffset = 60;
    public const int SnapshotsOffsetOffset = 64;
    public const int IncompatibleFeaturesOffset = 72;
    public const int CompatibleFeaturesOffset = 80;
    public const int AutoclearFeaturesOffset = 88;
    public const int RefcountOrderOffset = 96;
    public const int HeaderLengthOffset = 100;
    public const int CompressionTypeOffset = 104;

    public const int V2HeaderLength = 72;
    public const int V3MinHeaderLength = 104;
    public const int V3HeaderLength = 112;

    public const int MinClusterBits = 9;
    public const int MaxClusterBits = 21;
    public const int MinExtendedL2ClusterBits = 14;
    public const int MaxBackingFileSize = 1023;

    // QEMU's implementation limits (block/qcow2.h).
    public const long MaxL1Bytes = 32L << 20;
    public const long MaxRefcountTableBytes = 8L << 20;
    public const int MaxSnapshots = 65536;
    public const long MaxSnapshotTableBytes = 64L << 20;
    public const int MaxSnapshotExtraData = 1024;

    public const ulong IncompatDirty = 1UL << 0;
    public const ulong IncompatCorrupt = 1UL << 1;
    public const ulong IncompatDataFile = 1UL << 2;
    public const ulong IncompatCompression = 1UL << 3;
    public const ulong IncompatExtendedL2 = 1UL << 4;
    public const ulong IncompatKnown = IncompatDirty | IncompatCorrupt | IncompatDataFile | IncompatCompression | IncompatExtendedL2;
    public const ulong CompatLazyRefcounts = 1UL << 0;
    public const ulong AutoclearBitmaps = 1UL << 0;
    public const ulong AutoclearDataFileRaw = 1UL << 1;

    public const uint ExtEnd = 0x00000000;
    public const uint ExtBackingFormat = 0xE2792ACA;
    public const uint ExtFeatureTable = 0x6803F857;
    public const uint ExtBitmaps = 0x23852875;
    public const uint ExtCrypto = 0x0537BE77;
    public const uint ExtDataFile = 0x44415441;
    public const int FeatureTableEntrySize = 48;

    // L1/L2 entry bits.
    public const ulong OffsetMask = 0x00FFFFFFFFFFFE00UL;
    public const ulong FlagCopied = 1UL << 63;
    public const ulong FlagCompressed = 1UL << 62;
    public const ulong FlagZero = 1UL << 0;
    public const ulong L1ReservedMask = 0x7F000000000001FFUL;
    public const ulong L2ReservedMask = 0x3F000000000001FEUL;
    public const ulong RefTableReservedMask = 0x1FFUL;

    public const int SubclustersPerCluster = 32;
    public const ulong SubclusterAllocMask = 0xFFFFFFFFUL;

    // Snapshot table entry.
    public const int SnapshotFixedSize = 40;
    public const int SnapshotExtraV3 = 16;
}
