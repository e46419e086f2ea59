namespace VirtioScope.Virtio.Queues;

/// <summary>
/// Why a descriptor chain was rejected. A chain error fails one request (the device still returns the chain, with
/// an error status where it can write one); a <see cref="QueueError"/> breaks the whole queue.
/// </summary>
public enum ChainError
{
    /// <summary>The chain is well formed.</summary>
    None,

    /// <summary>A <c>next</c> index points outside the descriptor table.</summary>
    NextOutOfRange,

    /// <summary>The chain is longer than the queue (or indirect table) allows: a loop or an oversized chain.</summary>
    TooLong,

    /// <summary>An indirect descriptor inside an indirect table.</summary>
    NestedIndirect,

    /// <summary>An indirect descriptor that also has NEXT set.</summary>
    IndirectWithNext,

    /// <summary>An indirect table whose length is zero or not a multiple of 16.</summary>
    BadIndirectLength,

    /// <summary>An indirect table (or a descriptor in it) outside guest memory.</summary>
    IndirectOutsideMemory,

    /// <summary>A device-readable descriptor after a device-writable one.</summary>
    ReadableAfterWritable,

    /// <summary>An indirect descriptor although VIRTIO_F_RING_INDIRECT_DESC was not negotiated.</summary>
    IndirectNotNegotiated,

    /// <summary>A well-formed chain (its end is known) with more descriptors than the queue size (spec 2.7.5.3.1).</summary>
    LongerThanQueue,
}

/// <summary>Why a whole queue is unusable: the device must set DEVICE_NEEDS_RESET.</summary>
public enum QueueError
{
    /// <summary>The queue is healthy.</summary>
    None,

    /// <summary>The driver's available index ran ahead of the device by more than the queue size.</summary>
    AvailIndexJump,

    /// <summary>A head index in the available ring is outside the descriptor table.</summary>
    HeadOutOfRange,

    /// <summary>A ring structure is outside guest memory.</summary>
    RingOutsideMemory,

    /// <summary>The queue size is zero, above the maximum, or not a power of two for a split ring.</summary>
    BadSize,

    /// <summary>A ring structure is misaligned.</summary>
    Misaligned,

    /// <summary>Ring structures overlap each other.</summary>
    Overlap,

    /// <summary>A packed-ring chain runs longer than the ring.</summary>
    PackedChainTooLong,
}
