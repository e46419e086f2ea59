using System.Buffers.Binary;
using VirtioScope.Memory;

namespace VirtioScope.Virtio.Queues;

/// <summary>The device side of a split virtqueue (VirtIO 1.2 section 2.7).</summary>
public sealed class SplitQueue : VirtQueue
{
    private const ushort AvailFlagNoInterrupt = 1;
    private const ushort UsedFlagNoNotify = 1;

    private ushort _nextAvail;
    private ushort _nextUsed;
    private ushort _signalledUsed;
    private bool _signalledValid;

    internal SplitQueue(QueueLayout layout, bool eventIdx, bool indirect)
        : base(layout, eventIdx, indirect)
    {
    }

    /// <inheritdoc />
    public override ushort NextAvail => _nextAvail;

    /// <inheritdoc />
    public override ushort NextUsed => _nextUsed;

    /// <inheritdoc />
    public override RingPosition Position => new(_nextAvail, true, _nextUsed, true);

    /// <inheritdoc />
    public override void Restore(RingPosition position)
    {
        // Split indices are free-running, so any value is valid.
        _nextAvail = position.NextAvail;
        _nextUsed = position.NextUsed;
        _signalledValid = false;
    }

    private ulong AvailIdxAddress => Layout.DriverArea + 2;
    private ulong UsedEventAddress => Layout.DriverArea + 4 + 2UL * Size;
    private ulong UsedIdxAddress => Layout.DeviceArea + 2;
    private ulong AvailEventAddress => Layout.DeviceArea + 4 + 8UL * Size;

    /// <inheritdoc />
    public override bool TryPop(GuestMemory memory, DescriptorChain chain)
    {
        // Acquire: ring entries and descriptors are read only after the index that published them.
        if (Error != QueueError.None || !TryReadU16Acquire(memory, AvailIdxAddress, out ushort availIdx))
        {
            return false;
        }
        ushort pending = (ushort)(availIdx - _nextAvail);
        if (pending == 0)
        {
            return false;
        }
        if (pending > Size)
        {
            Error = QueueError.AvailIndexJump;
            return false;
        }
        ulong slot = Layout.DriverArea + 4 + 2UL * (ushort)(_nextAvail & (Size - 1));
        if (!TryReadU16(memory, slot, out ushort head))
        {
            return false;
        }
        if (head >= Size)
        {
            Error = QueueError.HeadOutOfRange;
            return false;
        }
        _nextAvail++;
        chain.Reset(head);
        chain.RingSlots = 1;
        Walk(memory, chain, head);
        return true;
    }

    private void Walk(GuestMemory memory, DescriptorChain chain, ushort head)
    {
        ushort index = head;
        // A chain can never be longer than the table: more steps than that means a loop.
        for (int step = 0; step < Size; step++)
        {
            TryReadDescriptor(memory, Layout.DescTable + (ulong)index * Descriptor.Size, out ulong addr, out uint len, out ushort rawFlags, out ushort next);
            var flags = (DescriptorFlags)rawFlags;
            if ((flags & DescriptorFlags.Indirect) != 0)
            {
                if ((flags & DescriptorFlags.Next) != 0)
                {
                    // The table is still walked (and NEXT ignored) so the request can fail with a status.
                    chain.Fail(ChainError.IndirectWithNext);
                }
                CollectIndirect(memory, chain, addr, len, RingFormat.Split);
                return;
            }
            if (!chain.TryAdd(new Descriptor(addr, len, flags & DescriptorFlags.Write)))
            {
                return;
            }
            if ((flags & DescriptorFlags.Next) == 0)
            {
                return;
            }
            if (next >= Size)
            {
                chain.Fail(ChainError.NextOutOfRange);
                return;
            }
            index = next;
        }
        chain.Fail(ChainError.TooLong);
    }

    /// <inheritdoc />
    public override void AddUsed(GuestMemory memory, DescriptorChain chain, uint writtenBytes)
    {
        ulong elem = Layout.DeviceArea + 4 + 8UL * (ushort)(_nextUsed & (Size - 1));
        if (memory.TryGetWriteSpan(elem, 8, out Span<byte> raw) is not null)
        {
            Error = QueueError.RingOutsideMemory;
            return;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(raw, chain.Id);
        BinaryPrimitives.WriteUInt32LittleEndian(raw[4..], writtenBytes);
        _nextUsed++;
        // The element must be visible before the index that publishes it.
        PublishU16(memory, UsedIdxAddress, _nextUsed);
    }

    /// <inheritdoc />
    public override bool NeedsInterrupt(GuestMemory memory)
    {
        ushort old = _signalledUsed;
        ushort now = _nextUsed;
        bool valid = _signalledValid;
        _signalledUsed = now;
        _signalledValid = true;
        Thread.MemoryBarrier();
        if (EventIdx)
        {
            if (!TryReadU16(memory, UsedEventAddress, out ushort usedEvent))
            {
                return true;
            }
            return !valid || (ushort)(now - usedEvent - 1) < (ushort)(now - old);
        }
        if (valid && now == old)
        {
            return false;
        }
        return !TryReadU16(memory, Layout.DriverArea, out ushort flags) || (flags & AvailFlagNoInterrupt) == 0;
    }

    /// <inheritdoc />
    public override bool EnableNotification(GuestMemory memory)
    {
        if (EventIdx)
        {
            WriteU16(memory, AvailEventAddress, _nextAvail);
        }
        else
        {
            WriteU16(memory, Layout.DeviceArea, 0);
        }
        // Re-check after publishing, so a buffer added in between is not missed.
        Thread.MemoryBarrier();
        return TryReadU16(memory, AvailIdxAddress, out ushort availIdx) && availIdx != _nextAvail;
    }

    /// <inheritdoc />
    public override void DisableNotification(GuestMemory memory)
    {
        if (!EventIdx)
        {
            WriteU16(memory, Layout.DeviceArea, UsedFlagNoNotify);
        }
    }
}
