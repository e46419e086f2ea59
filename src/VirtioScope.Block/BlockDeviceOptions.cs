using VirtioScope.Virtio;

namespace VirtioScope.Block;

/// <summary>Whether completed writes may sit in a volatile cache until FLUSH.</summary>
public enum WriteCacheMode
{
    /// <summary>Writes are durable when completed; the device flushes the backend after every write.</summary>
    WriteThrough,

    /// <summary>Writes become durable at FLUSH (needs VIRTIO_BLK_F_FLUSH; otherwise the device falls back to write-through).</summary>
    WriteBack,
}

/// <summary>CHS geometry reported with VIRTIO_BLK_F_GEOMETRY.</summary>
public readonly record struct BlockGeometry(ushort Cylinders, byte Heads, byte Sectors);

/// <summary>How a virtio-blk device is configured: offered features and the configuration space values.</summary>
public sealed record BlockDeviceOptions
{
    /// <summary>Every feature this implementation can offer.</summary>
    public const ulong SupportedFeatures =
        VirtioFeatures.Version1 | VirtioFeatures.RingEventIdx | VirtioFeatures.RingIndirectDesc | VirtioFeatures.RingPacked
        | VirtioFeatures.RingReset | BlkFeatures.SizeMax | BlkFeatures.SegMax | BlkFeatures.Geometry | BlkFeatures.ReadOnly
        | BlkFeatures.BlkSize | BlkFeatures.Flush | BlkFeatures.Topology | BlkFeatures.ConfigWce | BlkFeatures.Mq
        | BlkFeatures.Discard | BlkFeatures.WriteZeroes;

    /// <summary>Features to offer (RO is added for read-only backends whatever this says).</summary>
    public ulong Features { get; init; } = SupportedFeatures & ~BlkFeatures.ReadOnly;

    /// <summary>Largest single segment in bytes (size_max).</summary>
    public uint SizeMax { get; init; } = 65536;

    /// <summary>Most data segments in one request (seg_max).</summary>
    public uint SegMax { get; init; } = 128;

    /// <summary>Geometry; null derives one from the capacity (16 heads, 63 sectors).</summary>
    public BlockGeometry? Geometry { get; init; }

    /// <summary>Logical block size the driver should use (blk_size).</summary>
    public uint BlockSize { get; init; } = 512;

    /// <summary>log2 of logical blocks per physical block.</summary>
    public byte PhysicalBlockExponent { get; init; }

    /// <summary>Offset of the first aligned logical block.</summary>
    public byte AlignmentOffset { get; init; }

    /// <summary>Suggested minimum I/O size in logical blocks.</summary>
    public ushort MinIoSize { get; init; } = 1;

    /// <summary>Optimal I/O size in logical blocks.</summary>
    public uint OptIoSize { get; init; }

    /// <summary>Number of request queues (num_queues, with MQ).</summary>
    public int NumQueues { get; init; } = 1;

    /// <summary>Largest queue size (QueueNumMax).</summary>
    public ushort MaxQueueSize { get; init; } = 256;

    /// <summary>Most sectors in one discard segment.</summary>
    public uint MaxDiscardSectors { get; init; } = 1u << 22;

    /// <summary>Most segments in one discard request.</summary>
    public uint MaxDiscardSegments { get; init; } = 32;

    /// <summary>Discard alignment hint in sectors.</summary>
    public uint DiscardSectorAlignment { get; init; } = 8;

    /// <summary>Most sectors in one write-zeroes segment.</summary>
    public uint MaxWriteZeroesSectors { get; init; } = 1u << 22;

    /// <summary>Most segments in one write-zeroes request.</summary>
    public uint MaxWriteZeroesSegments { get; init; } = 32;

    /// <summary>Whether write-zeroes with the unmap flag may release storage.</summary>
    public bool WriteZeroesMayUnmap { get; init; } = true;

    /// <summary>Serial number returned by GET_ID (at most 20 bytes of ASCII).</summary>
    public string Serial { get; init; } = "virtioscope";

    /// <summary>Initial cache mode.</summary>
    public WriteCacheMode WriteCache { get; init; } = WriteCacheMode.WriteBack;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value the device cannot use.</summary>
    public void Validate()
    {
        if ((Features & ~SupportedFeatures) != 0)
        {
            throw new ArgumentException($"features 0x{Features & ~SupportedFeatures:x} are not supported by this device");
        }
        if (NumQueues is < 1 or > 64)
        {
            throw new ArgumentException($"num_queues {NumQueues} is outside 1..64");
        }
        if (MaxQueueSize is 0 or > 32768 || (MaxQueueSize & (MaxQueueSize - 1)) != 0)
        {
            throw new ArgumentException($"queue size {MaxQueueSize} must be a power of two from 1 to 32768");
        }
        if (BlockSize < 512 || (BlockSize & (BlockSize - 1)) != 0)
        {
            throw new ArgumentException($"block size {BlockSize} must be a power of two of at least 512");
        }
        if (SegMax == 0 || SizeMax < 512)
        {
            throw new ArgumentException("seg_max must be at least 1 and size_max at least 512");
        }
        if (System.Text.Encoding.ASCII.GetByteCount(Serial) > BlkLayout.IdBytes)
        {
            throw new ArgumentException($"serial \"{Serial}\" is longer than {BlkLayout.IdBytes} bytes");
        }
    }
}
