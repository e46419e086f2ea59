using System.Buffers.Binary;
using VirtioScope.Block;
using VirtioScope.Memory;
using VirtioScope.Virtio;

namespace VirtioScope.Guest.Tests;

/// <summary>
/// The thinnest possible virtio-mmio v2 block device with split rings: on a notify it completes every available
/// chain with status OK and a used length covering the device-writable bytes. It does no I/O, so a run against it
/// measures the guest driver's own cost and allocations.
/// </summary>
internal sealed class LoopbackDevice : IMmioDevice
{
    private readonly GuestMemory _memory;
    private readonly ulong[] _desc = new ulong[8];
    private readonly ulong[] _driver = new ulong[8];
    private readonly ulong[] _device = new ulong[8];
    private readonly uint[] _num = new uint[8];
    private readonly ushort[] _lastAvail = new ushort[8];
    private uint _sel;
    private uint _status;
    private uint _featSel;
    private uint _interrupt;

    public LoopbackDevice(GuestMemory memory, ulong capacitySectors)
    {
        _memory = memory;
        Capacity = capacitySectors;
    }

    public ulong Capacity { get; }

    /// <summary>When set, notifications are ignored: the device never completes anything (a hung device).</summary>
    public bool Swallow { get; set; }

    public Action? Interrupt { get; set; }

    public ulong Features { get; set; } = VirtioFeatures.Version1 | VirtioFeatures.RingEventIdx | VirtioFeatures.RingIndirectDesc | BlkFeatures.Flush;

    public uint Read(ulong offset, int width) => offset switch
    {
        MmioRegisters.MagicValue => MmioRegisters.Magic,
        MmioRegisters.Version => 2,
        MmioRegisters.DeviceId => BlkLayout.DeviceId,
        MmioRegisters.DeviceFeatures => (uint)(Features >> (_featSel == 0 ? 0 : 32)),
        MmioRegisters.QueueNumMax => 1024,
        MmioRegisters.Status => _status,
        MmioRegisters.InterruptStatus => _interrupt,
        MmioRegisters.Config => (uint)Capacity,
        MmioRegisters.Config + 4 => (uint)(Capacity >> 32),
        _ => 0,
    };

    public void Write(ulong offset, int width, uint value)
    {
        switch (offset)
        {
            case MmioRegisters.Status: _status = value; break;
            case MmioRegisters.DeviceFeaturesSel: _featSel = value; break;
            case MmioRegisters.QueueSel: _sel = value; break;
            case MmioRegisters.QueueNum: _num[_sel] = value; _lastAvail[_sel] = 0; break;
            case MmioRegisters.QueueDescLow: _desc[_sel] = (_desc[_sel] & ~0xffff_ffffUL) | value; break;
            case MmioRegisters.QueueDriverLow: _driver[_sel] = (_driver[_sel] & ~0xffff_ffffUL) | value; break;
            case MmioRegisters.QueueDeviceLow: _device[_sel] = (_device[_sel] & ~0xffff_ffffUL) | value; break;
            case MmioRegisters.InterruptAck: _interrupt &= ~value; break;
            case MmioRegisters.QueueNotify when !Swallow: Process((int)value); break;
            default: break;
        }
    }

    /// <summary>Stopwatch ticks spent inside the device (so the guest's share can be told apart).</summary>
    public long DeviceTicks { get; set; }

    private void Process(int q)
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        uint n = _num[q];
        ulong avail = _driver[q];
        ulong used = _device[q];
        ushort availIdx = _memory.ReadU16(avail + 2);
        ushort usedIdx = _memory.ReadU16(used + 2);
        while (_lastAvail[q] != availIdx)
        {
            ushort head = _memory.ReadU16(avail + 4 + (ulong)(2 * (_lastAvail[q] % n)));
            uint written = Complete(_desc[q], head);
            ulong elem = used + 4 + (ulong)(8 * (usedIdx % n));
            _memory.WriteU32(elem, head);
            _memory.WriteU32(elem + 4, written);
            usedIdx++;
            _lastAvail[q]++;
        }
        _memory.WriteU16(used + 2, usedIdx);
        _memory.WriteU16(used + 4 + (8 * n), _lastAvail[q]);
        _interrupt |= MmioRegisters.InterruptUsedBuffer;
        DeviceTicks += System.Diagnostics.Stopwatch.GetTimestamp() - start;
        Interrupt?.Invoke();
    }

    private uint Complete(ulong table, ushort index)
    {
        ulong d = table + (ulong)(16 * index);
        if ((_memory.ReadU16(d + 12) & 4) != 0)
        {
            table = _memory.ReadU64(d);
            d = table;
        }
        uint written = 0;
        while (true)
        {
            ushort flags = _memory.ReadU16(d + 12);
            if ((flags & 2) != 0)
            {
                written += _memory.ReadU32(d + 8);
            }
            if ((flags & 1) == 0)
            {
                _memory.WriteSpan(_memory.ReadU64(d), 1)[0] = 0;
                return written;
            }
            d = table + (ulong)(16 * _memory.ReadU16(d + 14));
        }
    }
}
