using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace VirtioScope.Guest.Rings;

/// <summary>
/// Driver side of a split virtqueue (VirtIO 1.2 section 2.7). Free descriptors live on a host-side stack; each chain
/// remembers its descriptors in allocation order (<c>_allocNext</c>) so that it is reclaimed exactly even when the
/// hostile workload wrote looping next fields.
/// </summary>
internal sealed unsafe class SplitVirtqueue : Virtqueue
{
    /// <summary>QueueAlign and GuestPageSize the driver uses for the legacy layout.</summary>
    public const int LegacyAlign = 4096;

    private readonly SplitRingLayout _layout;
    private readonly byte* _desc;
    private readonly byte* _avail;
    private readonly byte* _used;
    private readonly ushort[] _freeStack;
    private readonly ushort[] _allocNext;
    private readonly ushort[] _chainLen;
    private readonly int[] _tokenOfHead;
    private readonly ushort[] _scratch;
    private readonly int _mask;
    private int _freeCount;
    private ushort _availIdx;
    private ushort _lastUsed;
    private ushort _added;

    public SplitVirtqueue(GuestArena arena, GuestAllocator allocator, int index, int size, bool eventIdx, bool legacy)
        : base(arena, index, size, eventIdx)
    {
        _layout = new SplitRingLayout(size);
        _mask = size - 1;
        if (legacy)
        {
            ulong block = allocator.Allocate((ulong)_layout.LegacyTotalBytes(LegacyAlign), LegacyAlign);
            DescAddr = block;
            DriverAddr = block + (ulong)_layout.DescriptorTableBytes;
            DeviceAddr = block + (ulong)_layout.LegacyUsedOffset(LegacyAlign);
            TotalBytes = _layout.LegacyTotalBytes(LegacyAlign);
        }
        else
        {
            DescAddr = allocator.Allocate((ulong)_layout.DescriptorTableBytes, 16);
            DriverAddr = allocator.Allocate((ulong)_layout.AvailRingBytes, 2);
            DeviceAddr = allocator.Allocate((ulong)_layout.UsedRingBytes, 4);
        }
        _desc = arena.Pointer(DescAddr);
        _avail = arena.Pointer(DriverAddr);
        _used = arena.Pointer(DeviceAddr);
        _freeStack = new ushort[size];
        _allocNext = new ushort[size];
        _chainLen = new ushort[size];
        _tokenOfHead = new int[size];
        _scratch = new ushort[size];
        Clear();
    }

    public override ulong DescAddr { get; }

    public override ulong DriverAddr { get; }

    public override ulong DeviceAddr { get; }

    /// <summary>Bytes of the legacy contiguous block (0 for the version 2 layout).</summary>
    public int TotalBytes { get; }

    public override int FreeDescriptors => _freeCount;

    public override bool HasUnkicked => _added != 0;

    public override bool HasUsed => Volatile.Read(ref *(ushort*)(_used + SplitRingLayout.UsedIdxOffset)) != _lastUsed;

    public override void Clear()
    {
        new Span<byte>(_desc, _layout.DescriptorTableBytes).Clear();
        new Span<byte>(_avail, _layout.AvailRingBytes).Clear();
        new Span<byte>(_used, _layout.UsedRingBytes).Clear();
        _freeCount = Size;
        for (int i = 0; i < Size; i++)
        {
            // Popped from the top, so descriptor 0 is handed out first.
            _freeStack[i] = (ushort)(Size - 1 - i);
            _tokenOfHead[i] = -1;
        }
        _availIdx = 0;
        _lastUsed = 0;
        _added = 0;
        Fault = null;
    }

    public override bool TryAddDirect(int token, ReadOnlySpan<ChainDesc> chain)
    {
        int n = chain.Length;
        if (n == 0 || n > _freeCount)
        {
            return false;
        }
        Span<ushort> ids = _scratch.AsSpan(0, n);
        for (int k = 0; k < n; k++)
        {
            ids[k] = _freeStack[--_freeCount];
        }
        for (int k = 0; k < n; k++)
        {
            ref readonly ChainDesc c = ref chain[k];
            ushort next = NextField(c, k, n, ids);
            WriteDesc(_desc + (ids[k] * RingFlags.DescriptorSize), c.Addr, c.Len, c.Flags, next);
            _allocNext[ids[k]] = k + 1 < n ? ids[k + 1] : (ushort)0;
        }
        Publish(token, ids[0], (ushort)n);
        return true;
    }

    public override bool TryAddIndirect(int token, ReadOnlySpan<ChainDesc> table, ulong tableAddr, ulong ringAddr, uint ringLen, ushort extraFlags)
    {
        if (_freeCount == 0)
        {
            return false;
        }
        if (table.Length > 0)
        {
            byte* t = Arena.Pointer(tableAddr);
            for (int k = 0; k < table.Length; k++)
            {
                ref readonly ChainDesc c = ref table[k];
                ushort next = c.LinkAbsolute ? (ushort)c.Link : c.Link >= 0 ? (ushort)c.Link : (ushort)(k + 1 < table.Length ? k + 1 : 0);
                WriteDesc(t + (k * RingFlags.DescriptorSize), c.Addr, c.Len, c.Flags, next);
            }
        }
        ushort head = _freeStack[--_freeCount];
        WriteDesc(_desc + (head * RingFlags.DescriptorSize), ringAddr, ringLen, (ushort)(RingFlags.DescIndirect | extraFlags), 0);
        _allocNext[head] = 0;
        Publish(token, head, 1);
        return true;
    }

    /// <summary>Hostile: publishes <paramref name="head"/> in the available ring whatever it is (e.g. past the table).</summary>
    public void RawPushAvail(ushort head)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(new Span<byte>(_avail + SplitRingLayout.AvailRingOffset + ((_availIdx & _mask) * 2), 2), head);
        RawAdvanceAvailIdx(1);
    }

    /// <summary>Hostile: moves avail->idx by <paramref name="delta"/> without adding entries.</summary>
    public void RawAdvanceAvailIdx(int delta)
    {
        _availIdx = (ushort)(_availIdx + delta);
        _added = (ushort)(_added + delta);
        Interlocked.MemoryBarrier();
        Volatile.Write(ref *(ushort*)(_avail + SplitRingLayout.AvailIdxOffset), _availIdx);
    }

    public override bool PrepareKick()
    {
        ushort newIdx = _availIdx;
        ushort oldIdx = (ushort)(newIdx - _added);
        _added = 0;
        // The device may read avail->idx and write avail_event concurrently: order our idx store before the load.
        Interlocked.MemoryBarrier();
        if (EventIdx)
        {
            ushort availEvent = BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(_used + _layout.AvailEventOffset, 2));
            return RingFlags.NeedEvent(availEvent, newIdx, oldIdx);
        }
        return (BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(_used, 2)) & RingFlags.UsedNoNotify) == 0;
    }

    public override int Reap(Span<UsedEntry> entries)
    {
        ushort usedIdx = Volatile.Read(ref *(ushort*)(_used + SplitRingLayout.UsedIdxOffset));
        if ((ushort)(usedIdx - _lastUsed) > Size)
        {
            Fault ??= $"queue {Index}: the device moved used->idx from {_lastUsed} to {usedIdx}, more than the queue size {Size}";
            return 0;
        }
        int count = 0;
        while (_lastUsed != usedIdx && count < entries.Length)
        {
            byte* elem = _used + SplitRingLayout.UsedRingOffset + ((_lastUsed & _mask) * 8);
            uint id = BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(elem, 4));
            uint len = BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(elem + 4, 4));
            if (id >= (uint)Size || _tokenOfHead[id] < 0)
            {
                Fault ??= $"queue {Index}: the device returned used id {id}, which is not the head of a chain it owns";
                break;
            }
            int token = _tokenOfHead[id];
            _tokenOfHead[id] = -1;
            FreeChain((ushort)id);
            entries[count++] = new UsedEntry(token, len);
            _lastUsed++;
        }
        if (EventIdx)
        {
            // Ask for an interrupt as soon as the device uses the next element after those reaped.
            BinaryPrimitives.WriteUInt16LittleEndian(new Span<byte>(_avail + _layout.UsedEventOffset, 2), _lastUsed);
            Interlocked.MemoryBarrier();
        }
        return count;
    }

    private static ushort NextField(in ChainDesc c, int k, int n, ReadOnlySpan<ushort> ids)
    {
        if (c.LinkAbsolute)
        {
            return (ushort)c.Link;
        }
        if (c.Link >= 0)
        {
            return ids[c.Link];
        }
        return k + 1 < n ? ids[k + 1] : (ushort)0;
    }

    private void Publish(int token, ushort head, ushort count)
    {
        _tokenOfHead[head] = token;
        _chainLen[head] = count;
        BinaryPrimitives.WriteUInt16LittleEndian(new Span<byte>(_avail + SplitRingLayout.AvailRingOffset + ((_availIdx & _mask) * 2), 2), head);
        _availIdx++;
        _added++;
        // Release store: descriptors and ring entry become visible before the index that hands them over.
        Volatile.Write(ref *(ushort*)(_avail + SplitRingLayout.AvailIdxOffset), _availIdx);
    }

    private void FreeChain(ushort head)
    {
        ushort i = head;
        for (int k = _chainLen[head]; k > 0; k--)
        {
            _freeStack[_freeCount++] = i;
            i = _allocNext[i];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteDesc(byte* d, ulong addr, uint len, ushort flags, ushort next)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(new Span<byte>(d, 8), addr);
        BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(d + 8, 4), len);
        BinaryPrimitives.WriteUInt16LittleEndian(new Span<byte>(d + 12, 2), flags);
        BinaryPrimitives.WriteUInt16LittleEndian(new Span<byte>(d + 14, 2), next);
    }
}
