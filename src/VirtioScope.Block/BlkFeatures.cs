// Member names are the specification's own; the type documentation cites the section that defines them.
#pragma warning disable CS1591

namespace VirtioScope.Block;

/// <summary>virtio-blk feature bits (VirtIO 1.2 section 5.2.3), as 64-bit masks.</summary>
public static class BlkFeatures
{
    public const ulong SizeMax = 1UL << 1;
    public const ulong SegMax = 1UL << 2;
    public const ulong Geometry = 1UL << 4;
    public const ulong ReadOnly = 1UL << 5;
    public const ulong BlkSize = 1UL << 6;
    public const ulong Flush = 1UL << 9;
    public const ulong Topology = 1UL << 10;
    public const ulong ConfigWce = 1UL << 11;
    public const ulong Mq = 1UL << 12;
    public const ulong Discard = 1UL << 13;
    public const ulong WriteZeroes = 1UL << 14;
}

/// <summary>Request types (VirtIO 1.2 section 5.2.6).</summary>
public enum BlkRequestType : uint
{
    In = 0,
    Out = 1,
    Flush = 4,
    GetId = 8,
    GetLifetime = 10,
    Discard = 11,
    WriteZeroes = 13,
    SecureErase = 14,
}

/// <summary>Request completion status (the last byte of every request).</summary>
public enum BlkStatus : byte
{
    Ok = 0,
    IoErr = 1,
    Unsupp = 2,
}

/// <summary>Layout constants of virtio-blk.</summary>
public static class BlkLayout
{
    /// <summary>Bytes of the request header: le32 type, le32 reserved, le64 sector.</summary>
    public const int HeaderSize = 16;

    /// <summary>The unit of <c>sector</c> fields, whatever the block size.</summary>
    public const int SectorSize = 512;

    /// <summary>Bytes of a GET_ID answer.</summary>
    public const int IdBytes = 20;

    /// <summary>Bytes of one discard / write-zeroes segment: le64 sector, le32 num_sectors, le32 flags.</summary>
    public const int SegmentSize = 16;

    /// <summary>Flag of a write-zeroes segment: the device may unmap.</summary>
    public const uint SegmentFlagUnmap = 1;

    /// <summary>virtio device ID of a block device.</summary>
    public const uint DeviceId = 2;
}

/// <summary>Offsets of fields in the virtio-blk configuration space (VirtIO 1.2 section 5.2.4).</summary>
public static class BlkConfigOffsets
{
    public const int Capacity = 0;
    public const int SizeMax = 8;
    public const int SegMax = 12;
    public const int GeometryCylinders = 16;
    public const int GeometryHeads = 18;
    public const int GeometrySectors = 19;
    public const int BlkSize = 20;
    public const int PhysicalBlockExp = 24;
    public const int AlignmentOffset = 25;
    public const int MinIoSize = 26;
    public const int OptIoSize = 28;
    public const int Writeback = 32;
    public const int NumQueues = 34;
    public const int MaxDiscardSectors = 36;
    public const int MaxDiscardSeg = 40;
    public const int DiscardSectorAlignment = 44;
    public const int MaxWriteZeroesSectors = 48;
    public const int MaxWriteZeroesSeg = 52;
    public const int WriteZeroesMayUnmap = 56;
    /// <summary>Bytes of configuration space this device exposes (up to and including unused1).</summary>
    public const int Length = 60;
}
