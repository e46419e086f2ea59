namespace VirtioScope.Virtio.Queues;

/// <summary>
/// Where a device stands in a ring: what a transport saves when it stops a queue and hands back when it restarts it
/// (vhost-user's GET/SET_VRING_BASE). Split rings use free-running indices and ignore the wrap counters; packed rings
/// use slots with wrap counters.
/// </summary>
public readonly record struct RingPosition(ushort NextAvail, bool AvailWrap, ushort NextUsed, bool UsedWrap)
{
    /// <summary>The position of a fresh ring: index 0, wrap counters 1 (spec 2.8.1).</summary>
    public static RingPosition Start => new(0, true, 0, true);
}
