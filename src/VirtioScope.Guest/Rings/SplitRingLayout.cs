namespace VirtioScope.Guest.Rings;

/// <summary>
/// Sizes and offsets of a split virtqueue (VIRTIO 1.2 section 2.7): descriptor table (align 16, 16 bytes per entry),
/// available ring (align 2: flags, idx, ring[N], used_event) and used ring (align 4: flags, idx, ring[N] of 8 bytes,
/// avail_event). The legacy layout (section 2.7.2 legacy interface, virtio-mmio v1) puts the three parts in one
/// contiguous block with the used ring aligned to QueueAlign.
/// </summary>
public readonly record struct SplitRingLayout(int QueueSize)
{
    /// <summary>Bytes of the descriptor table.</summary>
    public int DescriptorTableBytes => RingFlags.DescriptorSize * QueueSize;

    /// <summary>Bytes of the available ring, used_event included.</summary>
    public int AvailRingBytes => 6 + (2 * QueueSize);

    /// <summary>Bytes of the used ring, avail_event included.</summary>
    public int UsedRingBytes => 6 + (8 * QueueSize);

    /// <summary>Offset of avail->idx.</summary>
    public const int AvailIdxOffset = 2;

    /// <summary>Offset of avail->ring[0].</summary>
    public const int AvailRingOffset = 4;

    /// <summary>Offset of used_event in the available ring.</summary>
    public int UsedEventOffset => 4 + (2 * QueueSize);

    /// <summary>Offset of used->idx.</summary>
    public const int UsedIdxOffset = 2;

    /// <summary>Offset of used->ring[0].</summary>
    public const int UsedRingOffset = 4;

    /// <summary>Offset of avail_event in the used ring.</summary>
    public int AvailEventOffset => 4 + (8 * QueueSize);

    /// <summary>Legacy layout: offset of the used ring from the start of the block.</summary>
    public int LegacyUsedOffset(int queueAlign) => AlignUp(DescriptorTableBytes + AvailRingBytes, queueAlign);

    /// <summary>Legacy layout: total bytes of the contiguous block (what Linux calls vring_size).</summary>
    public int LegacyTotalBytes(int queueAlign) => LegacyUsedOffset(queueAlign) + AlignUp(UsedRingBytes, queueAlign);

    /// <summary>Rounds <paramref name="value"/> up to a multiple of <paramref name="alignment"/> (a power of two).</summary>
    public static int AlignUp(int value, int alignment) => (value + alignment - 1) & ~(alignment - 1);
}
