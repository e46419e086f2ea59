using VirtioScope.Memory;
using VirtioScope.Virtio.Queues;

namespace VirtioScope.Testing;

/// <summary>A buffer for a chain: where it is, how long, and whether the device may write it.</summary>
public readonly record struct Buf(ulong Address, uint Length, bool Write = false);

/// <summary>
/// The driver side of a split ring written straight into guest memory, for tests that need exact control over what
/// the device sees (like rust-vmm's MockSplitQueue). Layout: descriptor table, avail ring, used ring back to back.
/// </summary>
public sealed class MockSplitRing
{
    private readonly GuestMemory _memory;
    private ushort _nextDesc;
    private ushort _availIdx;

    public MockSplitRing(GuestMemory memory, ulong baseAddress, ushort size)
    {
        _memory = memory;
        Size = size;
        ulong desc = baseAddress;
        ulong avail = desc + 16UL * size;
        ulong used = (avail + 6UL + 2UL * size + 3) & ~3UL;
        Layout = new QueueLayout(RingFormat.Split, size, desc, avail, used);
    }

    public ushort Size { get; }

    public QueueLayout Layout { get; }

    public ushort AvailIdx => _availIdx;

    public void SetDescriptor(ushort index, ulong addr, uint len, DescriptorFlags flags, ushort next)
    {
        ulong at = Layout.DescTable + 16UL * index;
        _memory.WriteU64(at, addr);
        _memory.WriteU32(at + 8, len);
        _memory.WriteU16(at + 12, (ushort)flags);
        _memory.WriteU16(at + 14, next);
    }

    /// <summary>Writes a chain into consecutive free descriptors and returns its head (not yet published).</summary>
    public ushort WriteChain(params Buf[] buffers)
    {
        ushort head = _nextDesc;
        for (int i = 0; i < buffers.Length; i++)
        {
            ushort index = (ushort)((head + i) % Size);
            var flags = (buffers[i].Write ? DescriptorFlags.Write : 0) | (i < buffers.Length - 1 ? DescriptorFlags.Next : 0);
            SetDescriptor(index, buffers[i].Address, buffers[i].Length, flags, (ushort)((index + 1) % Size));
        }
        _nextDesc = (ushort)((head + buffers.Length) % Size);
        return head;
    }

    /// <summary>Writes an indirect table at <paramref name="table"/> and one ring descriptor pointing at it.</summary>
    public ushort WriteIndirect(ulong table, params Buf[] buffers)
    {
        for (int i = 0; i < buffers.Length; i++)
        {
            ulong at = table + 16UL * (ulong)i;
            var flags = (buffers[i].Write ? DescriptorFlags.Write : 0) | (i < buffers.Length - 1 ? DescriptorFlags.Next : 0);
            _memory.WriteU64(at, buffers[i].Address);
            _memory.WriteU32(at + 8, buffers[i].Length);
            _memory.WriteU16(at + 12, (ushort)flags);
            _memory.WriteU16(at + 14, (ushort)(i + 1));
        }
        ushort head = _nextDesc;
        SetDescriptor(head, table, (uint)(16 * buffers.Length), DescriptorFlags.Indirect, 0);
        _nextDesc = (ushort)((head + 1) % Size);
        return head;
    }

    /// <summary>Puts a head in the avail ring and bumps avail idx.</summary>
    public void Publish(ushort head)
    {
        _memory.WriteU16(Layout.DriverArea + 4 + 2UL * (ushort)(_availIdx % Size), head);
        _availIdx++;
        _memory.WriteU16(Layout.DriverArea + 2, _availIdx);
    }

    /// <summary>Sets avail idx directly (for hostile tests).</summary>
    public void SetAvailIdx(ushort idx)
    {
        _availIdx = idx;
        _memory.WriteU16(Layout.DriverArea + 2, idx);
    }

    public void SetAvailFlags(ushort flags) => _memory.WriteU16(Layout.DriverArea, flags);

    public void SetUsedEvent(ushort value) => _memory.WriteU16(Layout.DriverArea + 4 + 2UL * Size, value);

    public ushort UsedIdx => _memory.ReadU16(Layout.DeviceArea + 2);

    public ushort UsedFlags => _memory.ReadU16(Layout.DeviceArea);

    public ushort AvailEvent => _memory.ReadU16(Layout.DeviceArea + 4 + 8UL * Size);

    public (uint Id, uint Len) Used(int i)
    {
        ulong at = Layout.DeviceArea + 4 + 8UL * (ulong)(i % Size);
        return (_memory.ReadU32(at), _memory.ReadU32(at + 4));
    }
}
