using VirtioScope.Memory;

namespace VirtioScope.Virtio.Queues;

/// <summary>
/// The device side of one live virtqueue. Like rust-vmm's virtio-queue, it holds only ring state and takes guest
/// memory on every call; the layout was validated before construction. Once <see cref="Error"/> is set the queue
/// does nothing more until it is reset.
/// </summary>
public abstract class VirtQueue
{
    private protected VirtQueue(QueueLayout layout, bool eventIdx, bool indirect)
    {
        Layout = layout;
        EventIdx = eventIdx;
        IndirectEnabled = indirect;
    }

    /// <summary>Creates the queue for a validated layout.</summary>
    public static VirtQueue Create(QueueLayout layout, bool eventIdx, bool indirect) => layout.Format == RingFormat.Split
        ? new SplitQueue(layout, eventIdx, indirect)
        : new PackedQueue(layout, eventIdx, indirect);

    /// <summary>Where the rings are.</summary>
    public QueueLayout Layout { get; }

    /// <summary>Queue size.</summary>
    public ushort Size => Layout.Size;

    /// <summary>Whether VIRTIO_F_RING_EVENT_IDX was negotiated.</summary>
    public bool EventIdx { get; }

    /// <summary>Whether VIRTIO_F_RING_INDIRECT_DESC was negotiated.</summary>
    public bool IndirectEnabled { get; }

    /// <summary>What broke the queue, or <see cref="QueueError.None"/>.</summary>
    public QueueError Error { get; protected set; }

    /// <summary>Where the device will look for the next available chain (split: free-running index; packed: slot).</summary>
    public abstract ushort NextAvail { get; }

    /// <summary>Where the device will put the next used element (split: free-running index; packed: slot).</summary>
    public abstract ushort NextUsed { get; }

    /// <summary>Where the device stands, to be saved when the queue stops.</summary>
    public abstract RingPosition Position { get; }

    /// <summary>
    /// Resumes at a saved position before the first pop (for a queue restarted by a transport). An index outside the
    /// ring breaks the queue.
    /// </summary>
    public abstract void Restore(RingPosition position);

    /// <summary>
    /// Pops the next available chain into <paramref name="chain"/>. False when nothing is available or the queue is
    /// broken (see <see cref="Error"/>). A popped chain may carry a <see cref="ChainError"/>: it must still be completed.
    /// </summary>
    public abstract bool TryPop(GuestMemory memory, DescriptorChain chain);

    /// <summary>Returns a chain to the driver with the number of bytes the device wrote into it.</summary>
    public abstract void AddUsed(GuestMemory memory, DescriptorChain chain, uint writtenBytes);

    /// <summary>
    /// After a batch of <see cref="AddUsed"/>, whether the driver wants an interrupt: flags or used_event (split),
    /// driver event suppression (packed).
    /// </summary>
    public abstract bool NeedsInterrupt(GuestMemory memory);

    /// <summary>Asks the driver to notify for new buffers (publishing avail_event under event idx). True if buffers are already waiting.</summary>
    public abstract bool EnableNotification(GuestMemory memory);

    /// <summary>Tells the driver notifications are not needed while the device is already processing.</summary>
    public abstract void DisableNotification(GuestMemory memory);

    /// <summary>Reads a ring field; a fault breaks the queue.</summary>
    private protected bool TryReadU16(GuestMemory memory, ulong address, out ushort value)
    {
        if (memory.TryGetReadSpan(address, 2, out ReadOnlySpan<byte> raw) is not null)
        {
            Error = QueueError.RingOutsideMemory;
            value = 0;
            return false;
        }
        value = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(raw);
        return true;
    }

    /// <summary>Reads a ring field with acquire semantics: later reads (the descriptor it guards) cannot move before it.</summary>
    private protected bool TryReadU16Acquire(GuestMemory memory, ulong address, out ushort value)
    {
        if (memory.TryGetReadSpan(address, 2, out ReadOnlySpan<byte> raw) is not null)
        {
            Error = QueueError.RingOutsideMemory;
            value = 0;
            return false;
        }
        value = System.Threading.Volatile.Read(ref System.Runtime.CompilerServices.Unsafe.As<byte, ushort>(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(raw)));
        return true;
    }

    /// <summary>Writes a ring field; a fault breaks the queue.</summary>
    private protected void WriteU16(GuestMemory memory, ulong address, ushort value)
    {
        if (memory.TryGetWriteSpan(address, 2, out Span<byte> raw) is not null)
        {
            Error = QueueError.RingOutsideMemory;
            return;
        }
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(raw, value);
    }

    /// <summary>
    /// Publishes a ring field with release semantics: every earlier store (the used element) is visible to a
    /// concurrent driver before this one. Cheaper than a full fence, which only the store-then-load checks need.
    /// </summary>
    private protected void PublishU16(GuestMemory memory, ulong address, ushort value)
    {
        if (memory.TryGetWriteSpan(address, 2, out Span<byte> raw) is not null)
        {
            Error = QueueError.RingOutsideMemory;
            return;
        }
        System.Threading.Volatile.Write(ref System.Runtime.CompilerServices.Unsafe.As<byte, ushort>(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(raw)), value);
    }

    /// <summary>Reads a 16-byte descriptor table entry; false if outside memory.</summary>
    private protected static bool TryReadDescriptor(GuestMemory memory, ulong address, out ulong addr, out uint len, out ushort flags, out ushort nextOrId)
    {
        if (memory.TryGetReadSpan(address, Descriptor.Size, out ReadOnlySpan<byte> raw) is not null)
        {
            addr = 0;
            len = 0;
            flags = 0;
            nextOrId = 0;
            return false;
        }
        addr = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(raw);
        len = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(raw[8..]);
        // Split: flags at 12, next at 14. Packed: id at 12, flags at 14. Callers pick.
        flags = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(raw[12..]);
        nextOrId = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(raw[14..]);
        return true;
    }

    /// <summary>
    /// Collects the entries of an indirect table into the chain. Split tables link entries through <c>next</c>
    /// starting at entry 0; packed tables are used in order. Each walk is bounded by the table length.
    /// </summary>
    private protected void CollectIndirect(GuestMemory memory, DescriptorChain chain, ulong table, uint length, RingFormat format)
    {
        chain.UsedIndirect = true;
        if (!IndirectEnabled)
        {
            // Still walked, so the status byte can carry the error back.
            chain.Fail(ChainError.IndirectNotNegotiated);
        }
        if (length == 0 || length % Descriptor.Size != 0)
        {
            chain.Fail(ChainError.BadIndirectLength);
            return;
        }
        uint count = length / Descriptor.Size;
        if (count > chain.Capacity - chain.Count)
        {
            chain.Fail(ChainError.TooLong);
            return;
        }
        if (!memory.IsValidRange(table, length))
        {
            chain.Fail(ChainError.IndirectOutsideMemory);
            return;
        }
        uint index = 0;
        for (uint step = 0; step < count; step++)
        {
            TryReadDescriptor(memory, table + (ulong)index * Descriptor.Size, out ulong addr, out uint len, out ushort w12, out ushort w14);
            var flags = (DescriptorFlags)(format == RingFormat.Split ? w12 : w14);
            if ((flags & DescriptorFlags.Indirect) != 0)
            {
                // Not followed: the entry stays a plain buffer and the request fails.
                chain.Fail(ChainError.NestedIndirect);
            }
            chain.TryAdd(new Descriptor(addr, len, flags & DescriptorFlags.Write));
            if (format == RingFormat.Packed)
            {
                index++;
                continue;
            }
            if ((flags & DescriptorFlags.Next) == 0)
            {
                LimitToQueueSize(chain);
                return;
            }
            index = w14;
            if (index >= count)
            {
                chain.Fail(ChainError.NextOutOfRange);
                return;
            }
        }
        if (format == RingFormat.Split)
        {
            // Every step still had NEXT set: the table links back on itself.
            chain.Fail(ChainError.TooLong);
        }
        LimitToQueueSize(chain);
    }

    /// <summary>The whole chain, indirect entries included, may not be longer than the queue (spec 2.7.5.3.1).</summary>
    private protected void LimitToQueueSize(DescriptorChain chain)
    {
        if (chain.Count > Size)
        {
            chain.Fail(ChainError.LongerThanQueue);
        }
    }
}
