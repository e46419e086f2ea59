using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using VirtioScope.Memory;

namespace VirtioScope.Virtio.Queues;

/// <summary>The device side of a packed virtqueue (VirtIO 1.2 section 2.8).</summary>
public sealed class PackedQueue : VirtQueue
{
    /// <summary>Event suppression flags (2.8.10).</summary>
    public const ushort EventFlagEnable = 0, EventFlagDisable = 1, EventFlagDesc = 2;

    private ushort _nextAvail;
    private bool _availWrap = true;
    private ushort _nextUsed;
    private bool _usedWrap = true;
    // Monotonic count of used slots, so event positions can be compared across wraps exactly.
    private ulong _usedTotal;
    private ulong _signalledTotal;
    private bool _signalledValid;

    internal PackedQueue(QueueLayout layout, bool eventIdx, bool indirect)
        : base(layout, eventIdx, indirect)
    {
    }

    /// <inheritdoc />
    public override ushort NextAvail => _nextAvail;

    /// <inheritdoc />
    public override ushort NextUsed => _nextUsed;

    /// <summary>The device's view of the driver's wrap counter.</summary>
    public bool AvailWrapCounter => _availWrap;

    /// <summary>The device's used wrap counter.</summary>
    public bool UsedWrapCounter => _usedWrap;

    /// <inheritdoc />
    public override RingPosition Position => new(_nextAvail, _availWrap, _nextUsed, _usedWrap);

    /// <inheritdoc />
    public override void Restore(RingPosition position)
    {
        if (position.NextAvail >= Size || position.NextUsed >= Size)
        {
            Error = QueueError.HeadOutOfRange;
            return;
        }
        _nextAvail = position.NextAvail;
        _availWrap = position.AvailWrap;
        _nextUsed = position.NextUsed;
        _usedWrap = position.UsedWrap;
        // The monotonic count only matters modulo two ring cycles: cycle parity must match the used wrap counter.
        _usedTotal = position.NextUsed + (position.UsedWrap ? 0UL : Size);
        _signalledTotal = _usedTotal;
        _signalledValid = false;
    }

    private static bool IsAvailable(ushort flags, bool wrap) =>
        ((flags & (ushort)DescriptorFlags.Available) != 0) == wrap && ((flags & (ushort)DescriptorFlags.Used) != 0) != wrap;

    /// <inheritdoc />
    public override bool TryPop(GuestMemory memory, DescriptorChain chain)
    {
        // Acquire: the descriptor body is read only after its flags said it is available.
        if (Error != QueueError.None || !TryReadU16Acquire(memory, SlotAddress(_nextAvail) + 14, out ushort headFlags)
            || !IsAvailable(headFlags, _availWrap))
        {
            return false;
        }
        chain.Reset(0);
        ushort index = _nextAvail;
        bool wrap = _availWrap;
        ushort slots = 0;
        ushort id = 0;
        while (true)
        {
            if (slots == Size)
            {
                Error = QueueError.PackedChainTooLong;
                return false;
            }
            TryReadDescriptor(memory, SlotAddress(index), out ulong addr, out uint len, out id, out ushort rawFlags);
            var flags = (DescriptorFlags)rawFlags;
            slots++;
            if (++index == Size)
            {
                index = 0;
                wrap = !wrap;
            }
            if ((flags & DescriptorFlags.Indirect) != 0)
            {
                if ((flags & DescriptorFlags.Next) != 0)
                {
                    chain.Fail(ChainError.IndirectWithNext);
                }
                if (chain.EndKnown)
                {
                    CollectIndirect(memory, chain, addr, len, RingFormat.Packed);
                }
            }
            else if (chain.EndKnown)
            {
                chain.TryAdd(new Descriptor(addr, len, flags & DescriptorFlags.Write));
            }
            if ((flags & DescriptorFlags.Next) == 0)
            {
                break;
            }
        }
        // The buffer id travels in the last descriptor of the chain (2.8.6).
        chain.Id = id;
        chain.RingSlots = slots;
        _nextAvail = index;
        _availWrap = wrap;
        return true;
    }

    /// <inheritdoc />
    public override void AddUsed(GuestMemory memory, DescriptorChain chain, uint writtenBytes)
    {
        ulong slot = SlotAddress(_nextUsed);
        if (memory.TryGetWriteSpan(slot, Descriptor.Size, out Span<byte> raw) is not null)
        {
            Error = QueueError.RingOutsideMemory;
            return;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(raw[8..], writtenBytes);
        BinaryPrimitives.WriteUInt16LittleEndian(raw[12..], chain.Id);
        ushort flags = (ushort)(_usedWrap ? DescriptorFlags.Available | DescriptorFlags.Used : 0);
        if (writtenBytes > 0)
        {
            flags |= (ushort)DescriptorFlags.Write;
        }
        // Flags last, with release semantics: they hand the slot back to the driver.
        Volatile.Write(ref Unsafe.As<byte, ushort>(ref raw[14]), flags);
        int next = _nextUsed + chain.RingSlots;
        if (next >= Size)
        {
            next -= Size;
            _usedWrap = !_usedWrap;
        }
        _nextUsed = (ushort)next;
        _usedTotal += chain.RingSlots;
    }

    /// <inheritdoc />
    public override bool NeedsInterrupt(GuestMemory memory)
    {
        ulong old = _signalledTotal;
        ulong now = _usedTotal;
        bool valid = _signalledValid;
        _signalledTotal = now;
        _signalledValid = true;
        Thread.MemoryBarrier();
        if (!TryReadU16(memory, Layout.DriverArea + 2, out ushort flags) || !TryReadU16(memory, Layout.DriverArea, out ushort offWrap))
        {
            return true;
        }
        if (valid && now == old)
        {
            return false;
        }
        return (flags & 3) switch
        {
            EventFlagDisable => false,
            EventFlagDesc when EventIdx => !valid || EventInRange(offWrap, old, now),
            _ => true,
        };
    }

    /// <summary>Whether the driver's event slot (offset and wrap) was passed by the used slots in [old, now).</summary>
    private bool EventInRange(ushort offWrap, ulong old, ulong now)
    {
        ulong offset = (ulong)(offWrap & 0x7fff);
        bool eventWrap = (offWrap & 0x8000) != 0;
        ulong cycle = now / Size;
        // The wrap counter starts at 1 and flips every cycle; an event with the other parity is a cycle away.
        bool currentWrap = cycle % 2 == 0;
        Span<ulong> candidates = stackalloc ulong[2];
        int n = 0;
        if (eventWrap == currentWrap)
        {
            candidates[n++] = cycle * Size + offset;
        }
        else
        {
            if (cycle > 0)
            {
                candidates[n++] = (cycle - 1) * Size + offset;
            }
            candidates[n++] = (cycle + 1) * Size + offset;
        }
        foreach (ulong e in candidates[..n])
        {
            if (e >= old && e < now)
            {
                return true;
            }
        }
        return false;
    }

    /// <inheritdoc />
    public override bool EnableNotification(GuestMemory memory)
    {
        if (EventIdx)
        {
            WriteU16(memory, Layout.DeviceArea, (ushort)(_nextAvail | (_availWrap ? 0x8000 : 0)));
            WriteU16(memory, Layout.DeviceArea + 2, EventFlagDesc);
        }
        else
        {
            WriteU16(memory, Layout.DeviceArea + 2, EventFlagEnable);
        }
        Thread.MemoryBarrier();
        return TryReadU16(memory, SlotAddress(_nextAvail) + 14, out ushort flags) && IsAvailable(flags, _availWrap);
    }

    /// <inheritdoc />
    public override void DisableNotification(GuestMemory memory) => WriteU16(memory, Layout.DeviceArea + 2, EventFlagDisable);

    private ulong SlotAddress(ushort index) => Layout.DescTable + (ulong)index * Descriptor.Size;
}
