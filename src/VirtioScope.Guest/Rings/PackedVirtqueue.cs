using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace VirtioScope.Guest.Rings;

/// <summary>
/// Driver side of a packed virtqueue (VirtIO 1.2 section 2.8). Buffer ids are the tokens (request slots); each id
/// remembers how many ring descriptors its chain took, which is how far the used position advances when it returns.
/// The head descriptor's flags are written last, so the device never sees a half-written chain.
/// </summary>
internal sealed unsafe class PackedVirtqueue : Virtqueue
{
    private readonly byte* _ring;
    private readonly byte* _driverEvent;
    private readonly byte* _deviceEvent;
    private readonly ushort[] _descCount;
    private int _freeCount;
    private int _nextAvail;
    private bool _availWrap;
    private int _lastUsed;
    private bool _usedWrap;
    private int _added;

    public PackedVirtqueue(GuestArena arena, GuestAllocator allocator, int index, int size, bool eventIdx, int maxTokens)
        : base(arena, index, size, eventIdx)
    {
        var layout = new PackedRingLayout(size);
        DescAddr = allocator.Allocate((ulong)layout.DescriptorRingBytes, 16);
        DriverAddr = allocator.Allocate(PackedRingLayout.EventSuppressionBytes, 4);
        DeviceAddr = allocator.Allocate(PackedRingLayout.EventSuppressionBytes, 4);
        _ring = arena.Pointer(DescAddr);
        _driverEvent = arena.Pointer(DriverAddr);
        _deviceEvent = arena.Pointer(DeviceAddr);
        _descCount = new ushort[maxTokens];
        Clear();
    }

    public override ulong DescAddr { get; }

    public override ulong DriverAddr { get; }

    public override ulong DeviceAddr { get; }

    public override int FreeDescriptors => _freeCount;

    public override bool HasUnkicked => _added != 0;

    public override bool HasUsed
    {
        get
        {
            ushort flags = Volatile.Read(ref *(ushort*)(_ring + (_lastUsed * RingFlags.DescriptorSize) + PackedRingLayout.FlagsOffset));
            return IsUsed(flags, _usedWrap);
        }
    }

    public override void Clear()
    {
        new Span<byte>(_ring, Size * RingFlags.DescriptorSize).Clear();
        new Span<byte>(_deviceEvent, PackedRingLayout.EventSuppressionBytes).Clear();
        // Driver event suppression: with EVENT_IDX, interrupt at the first used descriptor; otherwise always.
        BinaryPrimitives.WriteUInt16LittleEndian(new Span<byte>(_driverEvent, 2), PackedRingLayout.OffWrap(0, true));
        BinaryPrimitives.WriteUInt16LittleEndian(new Span<byte>(_driverEvent + 2, 2), EventIdx ? RingFlags.EventDesc : RingFlags.EventEnable);
        Array.Clear(_descCount);
        _freeCount = Size;
        _nextAvail = 0;
        _availWrap = true;
        _lastUsed = 0;
        _usedWrap = true;
        _added = 0;
        Fault = null;
    }

    public override bool TryAddDirect(int token, ReadOnlySpan<ChainDesc> chain)
    {
        int n = chain.Length;
        if (n == 0 || n > _freeCount || (uint)token >= (uint)_descCount.Length || _descCount[token] != 0)
        {
            return false;
        }
        int pos = _nextAvail;
        bool wrap = _availWrap;
        ushort headFlags = 0;
        byte* head = _ring + (pos * RingFlags.DescriptorSize);
        for (int k = 0; k < n; k++)
        {
            ref readonly ChainDesc c = ref chain[k];
            byte* d = _ring + (pos * RingFlags.DescriptorSize);
            ushort flags = (ushort)((c.Flags & ~(RingFlags.PackedAvail | RingFlags.PackedUsed)) | (wrap ? RingFlags.PackedAvail : RingFlags.PackedUsed));
            WriteBody(d, c.Addr, c.Len, (ushort)token);
            if (k == 0)
            {
                headFlags = flags;
            }
            else
            {
                WriteFlags(d, flags);
            }
            if (++pos == Size)
            {
                pos = 0;
                wrap = !wrap;
            }
        }
        // Release store of the head's flags hands the whole chain over.
        Volatile.Write(ref *(ushort*)(head + PackedRingLayout.FlagsOffset), headFlags);
        _nextAvail = pos;
        _availWrap = wrap;
        _freeCount -= n;
        _descCount[token] = (ushort)n;
        _added += n;
        return true;
    }

    public override bool TryAddIndirect(int token, ReadOnlySpan<ChainDesc> table, ulong tableAddr, ulong ringAddr, uint ringLen, ushort extraFlags)
    {
        if (_freeCount == 0 || (uint)token >= (uint)_descCount.Length || _descCount[token] != 0)
        {
            return false;
        }
        if (table.Length > 0)
        {
            byte* t = Arena.Pointer(tableAddr);
            for (int k = 0; k < table.Length; k++)
            {
                ref readonly ChainDesc c = ref table[k];
                // Packed indirect tables chain implicitly (section 2.8.18): NEXT stays clear.
                WriteBody(t + (k * RingFlags.DescriptorSize), c.Addr, c.Len, 0);
                WriteFlags(t + (k * RingFlags.DescriptorSize), (ushort)(c.Flags & ~RingFlags.DescNext));
            }
        }
        byte* d = _ring + (_nextAvail * RingFlags.DescriptorSize);
        WriteBody(d, ringAddr, ringLen, (ushort)token);
        ushort flags = (ushort)(RingFlags.DescIndirect | extraFlags | (_availWrap ? RingFlags.PackedAvail : RingFlags.PackedUsed));
        Volatile.Write(ref *(ushort*)(d + PackedRingLayout.FlagsOffset), flags);
        if (++_nextAvail == Size)
        {
            _nextAvail = 0;
            _availWrap = !_availWrap;
        }
        _freeCount--;
        _descCount[token] = 1;
        _added++;
        return true;
    }

    public override bool PrepareKick()
    {
        ushort newIdx = (ushort)_nextAvail;
        ushort oldIdx = (ushort)(newIdx - _added);
        _added = 0;
        Interlocked.MemoryBarrier();
        ushort offWrap = BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(_deviceEvent, 2));
        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(_deviceEvent + 2, 2));
        if (flags != RingFlags.EventDesc || !EventIdx)
        {
            return flags != RingFlags.EventDisable;
        }
        bool wrap = (offWrap & 0x8000) != 0;
        ushort eventIdx = (ushort)(offWrap & 0x7fff);
        if (wrap != _availWrap)
        {
            // The event lies in the previous lap of the ring: unwrap it onto our running position.
            eventIdx = (ushort)(eventIdx - Size);
        }
        return RingFlags.NeedEvent(eventIdx, newIdx, oldIdx);
    }

    public override int Reap(Span<UsedEntry> entries)
    {
        int count = 0;
        while (count < entries.Length)
        {
            byte* d = _ring + (_lastUsed * RingFlags.DescriptorSize);
            ushort flags = Volatile.Read(ref *(ushort*)(d + PackedRingLayout.FlagsOffset));
            if (!IsUsed(flags, _usedWrap))
            {
                break;
            }
            ushort id = BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(d + PackedRingLayout.IdOffset, 2));
            uint len = BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(d + PackedRingLayout.LenOffset, 4));
            if (id >= _descCount.Length || _descCount[id] == 0)
            {
                Fault ??= $"queue {Index}: the device returned buffer id {id} at descriptor {_lastUsed}, which it does not own";
                break;
            }
            int n = _descCount[id];
            _descCount[id] = 0;
            _freeCount += n;
            _lastUsed += n;
            if (_lastUsed >= Size)
            {
                _lastUsed -= Size;
                _usedWrap = !_usedWrap;
            }
            entries[count++] = new UsedEntry(id, len);
        }
        if (EventIdx)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(new Span<byte>(_driverEvent, 2), PackedRingLayout.OffWrap(_lastUsed, _usedWrap));
            Interlocked.MemoryBarrier();
        }
        return count;
    }

    /// <summary>A descriptor is used when its AVAIL and USED bits both equal the driver's used wrap counter.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsUsed(ushort flags, bool usedWrap)
    {
        bool avail = (flags & RingFlags.PackedAvail) != 0;
        bool used = (flags & RingFlags.PackedUsed) != 0;
        return avail == used && used == usedWrap;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteBody(byte* d, ulong addr, uint len, ushort id)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(new Span<byte>(d, 8), addr);
        BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(d + PackedRingLayout.LenOffset, 4), len);
        BinaryPrimitives.WriteUInt16LittleEndian(new Span<byte>(d + PackedRingLayout.IdOffset, 2), id);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteFlags(byte* d, ushort flags) =>
        BinaryPrimitives.WriteUInt16LittleEndian(new Span<byte>(d + PackedRingLayout.FlagsOffset, 2), flags);
}
