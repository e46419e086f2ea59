namespace VirtioScope.Guest.Rings;

/// <summary>
/// The driver side of one virtqueue, split or packed: adds descriptor chains tagged with a token (the request slot),
/// decides whether a kick is needed (honouring the device's event suppression), and reaps used elements back into
/// tokens. Single-threaded; <see cref="Reap"/> may run re-entrantly from inside a kick (the device completes
/// synchronously and raises its interrupt), so every add is fully published before the kick is written.
/// </summary>
internal abstract class Virtqueue
{
    protected Virtqueue(GuestArena arena, int index, int size, bool eventIdx)
    {
        Arena = arena;
        Index = index;
        Size = size;
        EventIdx = eventIdx;
    }

    protected GuestArena Arena { get; }

    /// <summary>Queue index as written to QueueSel and QueueNotify.</summary>
    public int Index { get; }

    /// <summary>Number of descriptors in the ring.</summary>
    public int Size { get; }

    /// <summary>Whether VIRTIO_F_RING_EVENT_IDX was negotiated.</summary>
    public bool EventIdx { get; }

    /// <summary>Guest address of the descriptor area (QueueDesc).</summary>
    public abstract ulong DescAddr { get; }

    /// <summary>Guest address of the driver area (QueueDriver: avail ring or driver event suppression).</summary>
    public abstract ulong DriverAddr { get; }

    /// <summary>Guest address of the device area (QueueDevice: used ring or device event suppression).</summary>
    public abstract ulong DeviceAddr { get; }

    /// <summary>Ring descriptors not currently owned by the device.</summary>
    public abstract int FreeDescriptors { get; }

    /// <summary>Set when the device broke the ring protocol (bad id, used index jump); the queue then needs a reset.</summary>
    public string? Fault { get; protected set; }

    /// <summary>Adds a chain of ring descriptors; false when there are not enough free descriptors.</summary>
    public abstract bool TryAddDirect(int token, ReadOnlySpan<ChainDesc> chain);

    /// <summary>
    /// Writes <paramref name="table"/> as an indirect table at <paramref name="tableAddr"/> and adds one ring descriptor
    /// (address <paramref name="ringAddr"/>, length <paramref name="ringLen"/>, INDIRECT plus <paramref name="extraFlags"/>).
    /// Normal requests pass the table's own address and length; the hostile workload lies about them.
    /// </summary>
    public abstract bool TryAddIndirect(int token, ReadOnlySpan<ChainDesc> table, ulong tableAddr, ulong ringAddr, uint ringLen, ushort extraFlags);

    /// <summary>Whether chains were added since the last kick decision.</summary>
    public abstract bool HasUnkicked { get; }

    /// <summary>Publishes the batch and decides whether the device wants a notification (false: suppressed).</summary>
    public abstract bool PrepareKick();

    /// <summary>Moves used elements into <paramref name="entries"/>; returns how many. Stops and sets <see cref="Fault"/> on a protocol error.</summary>
    public abstract int Reap(Span<UsedEntry> entries);

    /// <summary>Whether the device has used elements the driver has not reaped.</summary>
    public abstract bool HasUsed { get; }

    /// <summary>Zeroes the ring memory and forgets every chain (after a device reset).</summary>
    public abstract void Clear();
}
