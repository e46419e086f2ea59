namespace VirtioScope.Guest;

/// <summary>How the guest driver sets up the device: queues, ring format, and which features it is willing to accept.</summary>
public sealed record GuestDriverOptions
{
    /// <summary>Request queues to use (1..N). More than one needs VIRTIO_BLK_F_MQ; the device's num_queues caps it.</summary>
    public int QueueCount { get; init; } = 1;

    /// <summary>Ring size in descriptors (capped by QueueNumMax). Split rings need a power of two.</summary>
    public int QueueSize { get; init; } = 256;

    /// <summary>Requests in flight per queue: the number of preallocated request slots.</summary>
    public int QueueDepth { get; init; } = 64;

    /// <summary>Use packed virtqueues (VIRTIO_F_RING_PACKED); needs virtio-mmio version 2.</summary>
    public bool UsePacked { get; init; }

    /// <summary>Accept VIRTIO_F_RING_EVENT_IDX when offered.</summary>
    public bool UseEventIdx { get; init; } = true;

    /// <summary>Accept VIRTIO_F_RING_INDIRECT_DESC when offered; multi-segment requests then use indirect tables.</summary>
    public bool UseIndirect { get; init; } = true;

    /// <summary>Feature bits the driver is willing to accept (intersected with what it supports and what the device offers).</summary>
    public ulong FeatureMask { get; init; } = ulong.MaxValue;

    /// <summary>Largest data transfer of one request: the size of each slot's data buffer in guest memory.</summary>
    public int MaxRequestBytes { get; init; } = 64 * 1024;

    /// <summary>Bytes per data descriptor (0: as large as size_max allows). Small values make multi-segment requests.</summary>
    public int SegmentBytes { get; init; }

    /// <summary>Guest-physical start of the memory the driver allocates rings and buffers from (0: start of the first region).</summary>
    public ulong ArenaBase { get; init; }

    /// <summary>Bytes of that memory (0: to the end of its region).</summary>
    public ulong ArenaSize { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> with a clear message when a value is out of range.</summary>
    public void Validate()
    {
        if (QueueCount is < 1 or > 64)
        {
            throw new ArgumentException($"queue count {QueueCount} is outside 1..64", nameof(QueueCount));
        }
        if (QueueSize is < 2 or > 32768)
        {
            throw new ArgumentException($"queue size {QueueSize} is outside 2..32768", nameof(QueueSize));
        }
        if (!UsePacked && (QueueSize & (QueueSize - 1)) != 0)
        {
            throw new ArgumentException($"queue size {QueueSize} is not a power of two, which split rings need", nameof(QueueSize));
        }
        if (QueueDepth < 1 || QueueDepth > QueueSize)
        {
            throw new ArgumentException($"queue depth {QueueDepth} is outside 1..{QueueSize} (the queue size)", nameof(QueueDepth));
        }
        if (MaxRequestBytes < 512 || MaxRequestBytes % 512 != 0)
        {
            throw new ArgumentException($"max request size {MaxRequestBytes} is not a positive multiple of 512", nameof(MaxRequestBytes));
        }
        if (SegmentBytes < 0)
        {
            throw new ArgumentException($"segment size {SegmentBytes} is negative", nameof(SegmentBytes));
        }
    }
}
