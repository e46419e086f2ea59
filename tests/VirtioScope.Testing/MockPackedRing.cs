using VirtioScope.Memory;
using VirtioScope.Virtio.Queues;

namespace VirtioScope.Testing;

/// <summary>The driver side of a packed ring written straight into guest memory.</summary>
public sealed class MockPackedRing
{
    private readonly GuestMemory _memory;
    private ushort _next;
    private bool _wrap = true;
    private ushort _usedNext;
    private bool _usedWrap = true;

    public MockPackedRing(GuestMemory memory, ulong baseAddress, ushort size)
    {
        _memory = memory;
        Size = size;
        ulong desc = baseAddress;
        ulong driver = desc + 16UL * size;
        Layout = new QueueLayout(RingFormat.Packed, size, desc, driver, driver + 4);
    }

    public ushort Size { get; }

    public QueueLayout Layout { get; }

    /// <summary>Writes and publishes a chain with buffer id <paramref name="id"/>; the head's flags are written last.</summary>
    public void Add(ushort id, params Buf[] buffers)
    {
        ushort head = _next;
        ushort headFlags = 0;
        for (int i = 0; i < buffers.Length; i++)
        {
            var flags = (buffers[i].Write ? DescriptorFlags.Write : 0) | (i < buffers.Length - 1 ? DescriptorFlags.Next : 0);
            ushort f = (ushort)((ushort)flags | (_wrap ? (ushort)DescriptorFlags.Available : (ushort)DescriptorFlags.Used));
            ulong at = Layout.DescTable + 16UL * _next;
            _memory.WriteU64(at, buffers[i].Address);
            _memory.WriteU32(at + 8, buffers[i].Length);
            _memory.WriteU16(at + 12, id);
            if (i == 0)
            {
                headFlags = f;
            }
            else
            {
                _memory.WriteU16(at + 14, f);
            }
            if (++_next == Size)
            {
                _next = 0;
                _wrap = !_wrap;
            }
        }
        _memory.WriteU16(Layout.DescTable + 16UL * head + 14, headFlags);
    }

    /// <summary>Writes a raw descriptor at the current slot with explicit flags (availability bits added), advancing.</summary>
    public void AddRaw(ulong addr, uint len, ushort id, DescriptorFlags flags)
    {
        ulong at = Layout.DescTable + 16UL * _next;
        _memory.WriteU64(at, addr);
        _memory.WriteU32(at + 8, len);
        _memory.WriteU16(at + 12, id);
        _memory.WriteU16(at + 14, (ushort)((ushort)flags | (_wrap ? (ushort)DescriptorFlags.Available : (ushort)DescriptorFlags.Used)));
        if (++_next == Size)
        {
            _next = 0;
            _wrap = !_wrap;
        }
    }

    public void SetDriverEvent(ushort flags, ushort offWrap = 0)
    {
        _memory.WriteU16(Layout.DriverArea, offWrap);
        _memory.WriteU16(Layout.DriverArea + 2, flags);
    }

    public (ushort OffWrap, ushort Flags) DeviceEvent => (_memory.ReadU16(Layout.DeviceArea), _memory.ReadU16(Layout.DeviceArea + 2));

    /// <summary>Takes the next used element if the device wrote one: (id, len, slots must be supplied by caller).</summary>
    public bool TryTakeUsed(ushort slots, out ushort id, out uint len)
    {
        ulong at = Layout.DescTable + 16UL * _usedNext;
        ushort flags = _memory.ReadU16(at + 14);
        bool avail = (flags & (ushort)DescriptorFlags.Available) != 0;
        bool used = (flags & (ushort)DescriptorFlags.Used) != 0;
        if (avail != _usedWrap || used != _usedWrap)
        {
            id = 0;
            len = 0;
            return false;
        }
        id = _memory.ReadU16(at + 12);
        len = _memory.ReadU32(at + 8);
        int next = _usedNext + slots;
        if (next >= Size)
        {
            next -= Size;
            _usedWrap = !_usedWrap;
        }
        _usedNext = (ushort)next;
        return true;
    }
}
