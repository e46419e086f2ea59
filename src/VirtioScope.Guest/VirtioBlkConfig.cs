namespace VirtioScope.Guest;

/// <summary>
/// The virtio-blk configuration space as the driver read it (VirtIO 1.2 section 5.2.4). Fields whose feature was not
/// negotiated are zero, except <see cref="BlkSize"/> (512) and <see cref="NumQueues"/> (1), the spec's defaults.
/// </summary>
public sealed record VirtioBlkConfig
{
    /// <summary>Capacity in 512-byte sectors.</summary>
    public ulong Capacity { get; init; }

    /// <summary>Largest segment in bytes (VIRTIO_BLK_F_SIZE_MAX).</summary>
    public uint SizeMax { get; init; }

    /// <summary>Most data segments in one request (VIRTIO_BLK_F_SEG_MAX).</summary>
    public uint SegMax { get; init; }

    /// <summary>Geometry: cylinders (VIRTIO_BLK_F_GEOMETRY).</summary>
    public ushort Cylinders { get; init; }

    /// <summary>Geometry: heads.</summary>
    public byte Heads { get; init; }

    /// <summary>Geometry: sectors per track.</summary>
    public byte Sectors { get; init; }

    /// <summary>Logical block size in bytes (VIRTIO_BLK_F_BLK_SIZE; 512 otherwise).</summary>
    public uint BlkSize { get; init; } = 512;

    /// <summary>Topology: log2 of logical blocks per physical block (VIRTIO_BLK_F_TOPOLOGY).</summary>
    public byte PhysicalBlockExp { get; init; }

    /// <summary>Topology: offset of the first aligned logical block.</summary>
    public byte AlignmentOffset { get; init; }

    /// <summary>Topology: suggested minimum I/O size in logical blocks.</summary>
    public ushort MinIoSize { get; init; }

    /// <summary>Topology: optimal I/O size in logical blocks.</summary>
    public uint OptIoSize { get; init; }

    /// <summary>Cache mode, 0 write-through, 1 writeback (VIRTIO_BLK_F_CONFIG_WCE).</summary>
    public byte Writeback { get; init; }

    /// <summary>Request queues the device has (VIRTIO_BLK_F_MQ; 1 otherwise).</summary>
    public ushort NumQueues { get; init; } = 1;

    /// <summary>Largest discard in sectors (VIRTIO_BLK_F_DISCARD).</summary>
    public uint MaxDiscardSectors { get; init; }

    /// <summary>Most segments in one discard request.</summary>
    public uint MaxDiscardSeg { get; init; }

    /// <summary>Discard alignment in sectors.</summary>
    public uint DiscardSectorAlignment { get; init; }

    /// <summary>Largest write-zeroes in sectors (VIRTIO_BLK_F_WRITE_ZEROES).</summary>
    public uint MaxWriteZeroesSectors { get; init; }

    /// <summary>Most segments in one write-zeroes request.</summary>
    public uint MaxWriteZeroesSeg { get; init; }

    /// <summary>Whether write-zeroes with the unmap flag may deallocate.</summary>
    public byte WriteZeroesMayUnmap { get; init; }

    /// <summary>Capacity in bytes.</summary>
    public ulong CapacityBytes => Capacity * 512;
}
