using VirtioScope.Virtio.Events;
using System.Buffers.Binary;
using VirtioScope.Block;
using VirtioScope.Guest.Rings;
using VirtioScope.Virtio;

namespace VirtioScope.Guest;

/// <summary>
/// One virtio-blk request queue: a fixed set of request slots (header, status byte, indirect table and data buffer,
/// all preallocated in guest memory) over a split or packed ring. Submitting fills a slot's header and the ring and
/// allocates nothing; <see cref="Kick"/> notifies the device once per batch unless it suppressed notifications;
/// <see cref="ProcessCompletions"/> reaps the used ring in bulk and hands each finished request to a handler.
/// </summary>
/// <remarks>
/// Two-phase use: <see cref="TryReserve"/> a slot, fill <see cref="GetBuffer"/> if writing, then one of the Submit
/// methods. A Submit returns false only when the ring lacks free descriptors; the slot stays reserved.
/// </remarks>
public sealed class BlkQueue
{
    private const byte SlotFree = 0;
    private const byte SlotReserved = 1;
    private const byte SlotInFlight = 2;
    private const byte SlotCompleted = 3;
    private const int MetaHeader = 0;
    private const int MetaStatus = 16;
    private const int MetaTable = 32;

    private readonly VirtioBlkGuest _guest;
    private readonly IMmioDevice _mmio;
    private readonly GuestArena _arena;
    private readonly ulong _metaBase;
    private readonly int _metaStride;
    private readonly ulong _dataBase;
    private readonly int _dataStride;
    private readonly int _segmentBytes;
    private readonly int _maxChain;
    private readonly long _maxSegmentedBytes;
    private readonly byte[] _state;
    private readonly int[] _freeSlots;
    private readonly ulong[] _tag;
    private readonly BlkRequestType[] _type;
    private readonly ulong[] _sector;
    private readonly int[] _dataLength;
    private readonly uint[] _usedLength;
    private readonly bool[] _aborted;
    private readonly int[] _completed;
    private readonly UsedEntry[] _used;
    private readonly ChainDesc[] _chain;
    private int _freeCount;
    private int _completedHead;
    private int _completedCount;
    private bool _reaping;

    internal BlkQueue(VirtioBlkGuest guest, IMmioDevice mmio, GuestArena arena, GuestAllocator allocator, Virtqueue ring, int depth, int maxRequestBytes, int segmentBytes)
    {
        _guest = guest;
        _mmio = mmio;
        _arena = arena;
        Ring = ring;
        Depth = depth;
        _segmentBytes = segmentBytes;
        _maxChain = 2 + Math.Max(1, (maxRequestBytes + segmentBytes - 1) / segmentBytes);
        _metaStride = MetaTable + (_maxChain * RingFlags.DescriptorSize);
        _metaBase = allocator.Allocate((ulong)_metaStride * (ulong)depth, 16);
        _dataStride = maxRequestBytes;
        _dataBase = allocator.Allocate((ulong)_dataStride * (ulong)depth, 4096);
        MaxRequestBytes = maxRequestBytes;
        // seg_max caps the data descriptors of one request; precomputed so the check is a compare, not a division.
        uint segMax = guest.Config.SegMax;
        _maxSegmentedBytes = segMax == 0 ? long.MaxValue : (long)segMax * segmentBytes;
        _state = new byte[depth];
        _freeSlots = new int[depth];
        _tag = new ulong[depth];
        _type = new BlkRequestType[depth];
        _sector = new ulong[depth];
        _dataLength = new int[depth];
        _usedLength = new uint[depth];
        _aborted = new bool[depth];
        _completed = new int[depth];
        _used = new UsedEntry[ring.Size];
        _chain = new ChainDesc[Math.Max(_maxChain, ring.Size + 1)];
        ResetSlots();
    }

    internal Virtqueue Ring { get; }

    /// <summary>Queue index (QueueSel / QueueNotify value).</summary>
    public int Index => Ring.Index;

    /// <summary>Ring size in descriptors.</summary>
    public int Size => Ring.Size;

    /// <summary>Request slots: the most requests this queue can have in flight.</summary>
    public int Depth { get; }

    /// <summary>Size of each slot's data buffer.</summary>
    public int MaxRequestBytes { get; }

    /// <summary>Slots that are free to reserve.</summary>
    public int FreeSlots => _freeCount;

    /// <summary>Requests submitted and not yet handed to a completion handler.</summary>
    public int Outstanding => Depth - _freeCount;

    /// <summary>Notifications written to QueueNotify.</summary>
    public long Notifications { get; private set; }

    /// <summary>Kicks skipped because the device's event suppression said it did not need one.</summary>
    public long SuppressedNotifications { get; private set; }

    /// <summary>Reserves a free slot; -1 when all are in use.</summary>
    public int TryReserve()
    {
        if (_freeCount == 0)
        {
            return -1;
        }
        int slot = _freeSlots[--_freeCount];
        _state[slot] = SlotReserved;
        return slot;
    }

    /// <summary>Returns a reserved slot without submitting it.</summary>
    public void Release(int slot)
    {
        CheckReserved(slot);
        Free(slot);
    }

    /// <summary>The slot's data buffer in guest memory (<see cref="MaxRequestBytes"/> long).</summary>
    public Span<byte> GetBuffer(int slot)
    {
        CheckSlot(slot);
        return _arena.Span(DataAddress(slot), _dataStride);
    }

    /// <summary>Submits a read of <paramref name="length"/> bytes from <paramref name="sector"/> into the slot's buffer.</summary>
    public bool SubmitRead(int slot, ulong sector, int length, ulong tag)
    {
        CheckData(sector, length);
        return Submit(slot, BlkRequestType.In, sector, length, deviceWrites: true, tag);
    }

    /// <summary>Submits a write of the first <paramref name="length"/> bytes of the slot's buffer at <paramref name="sector"/>.</summary>
    public bool SubmitWrite(int slot, ulong sector, int length, ulong tag)
    {
        if ((_guest.NegotiatedFeatures & BlkFeatures.ReadOnly) != 0)
        {
            throw new InvalidOperationException("the device is read-only (VIRTIO_BLK_F_RO): the driver does not send writes");
        }
        CheckData(sector, length);
        return Submit(slot, BlkRequestType.Out, sector, length, deviceWrites: false, tag);
    }

    /// <summary>Submits a cache flush (needs VIRTIO_BLK_F_FLUSH).</summary>
    public bool SubmitFlush(int slot, ulong tag)
    {
        RequireFeature(BlkFeatures.Flush, "VIRTIO_BLK_F_FLUSH", "flush");
        return Submit(slot, BlkRequestType.Flush, 0, 0, deviceWrites: false, tag);
    }

    /// <summary>Submits GET_ID: the device writes its 20-byte serial into the slot's buffer.</summary>
    public bool SubmitGetId(int slot, ulong tag) =>
        Submit(slot, BlkRequestType.GetId, 0, BlkLayout.IdBytes, deviceWrites: true, tag);

    /// <summary>Submits a discard of <paramref name="segments"/> (needs VIRTIO_BLK_F_DISCARD; flags must be 0).</summary>
    public bool SubmitDiscard(int slot, ReadOnlySpan<BlkSegment> segments, ulong tag)
    {
        RequireFeature(BlkFeatures.Discard, "VIRTIO_BLK_F_DISCARD", "discard");
        VirtioBlkConfig c = _guest.Config;
        CheckSegments(segments, c.MaxDiscardSeg, c.MaxDiscardSectors, allowUnmap: false, "discard");
        return SubmitSegments(slot, BlkRequestType.Discard, segments, tag);
    }

    /// <summary>Submits write-zeroes of <paramref name="segments"/> (needs VIRTIO_BLK_F_WRITE_ZEROES; flag 1 allows unmapping).</summary>
    public bool SubmitWriteZeroes(int slot, ReadOnlySpan<BlkSegment> segments, ulong tag)
    {
        RequireFeature(BlkFeatures.WriteZeroes, "VIRTIO_BLK_F_WRITE_ZEROES", "write-zeroes");
        VirtioBlkConfig c = _guest.Config;
        CheckSegments(segments, c.MaxWriteZeroesSeg, c.MaxWriteZeroesSectors, allowUnmap: true, "write-zeroes");
        return SubmitSegments(slot, BlkRequestType.WriteZeroes, segments, tag);
    }

    /// <summary>Convenience: reserve and submit a read; false when no slot or descriptors are free. Throws for a read the spec forbids.</summary>
    public bool TrySubmitRead(ulong sector, int length, ulong tag)
    {
        // Validate first, so that a bad request does not leave a slot reserved.
        CheckData(sector, length);
        int slot = TryReserve();
        if (slot < 0)
        {
            return false;
        }
        if (!SubmitRead(slot, sector, length, tag))
        {
            Free(slot);
            return false;
        }
        return true;
    }

    /// <summary>
    /// Notifies the device of the requests added since the last kick, unless its event suppression (avail_event, or
    /// the packed device event structure, or VIRTQ_USED_F_NO_NOTIFY) says it does not need one. Returns whether it
    /// wrote QueueNotify. The device may complete requests and interrupt from inside that write.
    /// </summary>
    public bool Kick()
    {
        if (!Ring.HasUnkicked)
        {
            return false;
        }
        if (Ring.PrepareKick())
        {
            Notifications++;
            PublishKick(suppressed: false);
            _mmio.Write(MmioRegisters.QueueNotify, 4, (uint)Index);
            return true;
        }
        SuppressedNotifications++;
        PublishKick(suppressed: true);
        return false;
    }

    private void PublishKick(bool suppressed)
    {
        if (_guest.Events is { Enabled: true } events)
        {
            events.Publish(new GuestKickEvent(Index, suppressed));
        }
    }

    /// <summary>Reaps the used ring and calls <paramref name="handler"/> (may be null) for each finished request; returns how many.</summary>
    public int ProcessCompletions(IBlkCompletionHandler? handler)
    {
        ReapRing();
        int done = 0;
        while (_completedCount > 0)
        {
            int slot = _completed[_completedHead];
            _completedHead = _completedHead + 1 == Depth ? 0 : _completedHead + 1;
            _completedCount--;
            var completion = new BlkCompletion(
                Index, slot, _tag[slot], _type[slot], _sector[slot], _dataLength[slot],
                _aborted[slot] ? BlkCompletion.NotWritten : ReadStatus(slot), _usedLength[slot], _aborted[slot]);
            if (handler is not null)
            {
                int length = Math.Min(Math.Max(_dataLength[slot], 0), _dataStride);
                handler.OnCompleted(completion, _arena.Span(DataAddress(slot), length));
            }
            Free(slot);
            done++;
        }
        return done;
    }

    /// <summary>Moves used elements into the completed list. Safe to call from the interrupt path, even inside a kick.</summary>
    internal void ReapRing()
    {
        if (_reaping || !_guest.QueuesLive)
        {
            return;
        }
        _reaping = true;
        try
        {
            int n;
            while ((n = Ring.Reap(_used)) > 0)
            {
                for (int i = 0; i < n; i++)
                {
                    UsedEntry e = _used[i];
                    int slot = e.Token;
                    if ((uint)slot >= (uint)Depth || _state[slot] != SlotInFlight)
                    {
                        _guest.ReportFault($"queue {Index}: the device completed slot {slot}, which was not in flight");
                        continue;
                    }
                    _usedLength[slot] = e.Length;
                    PushCompleted(slot);
                }
            }
            if (Ring.Fault is { } fault)
            {
                _guest.ReportFault(fault);
            }
        }
        finally
        {
            _reaping = false;
        }
    }

    /// <summary>After a device reset: every request still in flight is completed as aborted.</summary>
    internal void AbortInFlight()
    {
        for (int slot = 0; slot < Depth; slot++)
        {
            if (_state[slot] == SlotInFlight)
            {
                _aborted[slot] = true;
                PushCompleted(slot);
            }
        }
    }

    internal void ResetSlots()
    {
        _freeCount = 0;
        for (int slot = Depth - 1; slot >= 0; slot--)
        {
            _freeSlots[_freeCount++] = slot;
            _state[slot] = SlotFree;
        }
        _completedHead = 0;
        _completedCount = 0;
    }

    internal ulong HeaderAddress(int slot) => _metaBase + ((ulong)slot * (ulong)_metaStride) + MetaHeader;

    internal ulong StatusAddress(int slot) => _metaBase + ((ulong)slot * (ulong)_metaStride) + MetaStatus;

    internal ulong TableAddress(int slot) => _metaBase + ((ulong)slot * (ulong)_metaStride) + MetaTable;

    internal ulong DataAddress(int slot) => _dataBase + ((ulong)slot * (ulong)_dataStride);

    internal int SegmentBytes => _segmentBytes;

    /// <summary>Hostile path: writes the header and status sentinel, then adds a hand-made chain (direct or through a table).</summary>
    internal bool SubmitRaw(int slot, uint type, ulong sector, int dataLength, ReadOnlySpan<ChainDesc> chain, in RawIndirect indirect, ulong tag)
    {
        CheckReserved(slot);
        WriteHeader(slot, type, sector);
        Book(slot, (BlkRequestType)type, sector, dataLength, tag);
        bool added = indirect.Use
            ? Ring.TryAddIndirect(slot, chain, indirect.TableAddr, indirect.RingAddr, indirect.RingLen, indirect.ExtraFlags)
            : Ring.TryAddDirect(slot, chain);
        if (added)
        {
            _state[slot] = SlotInFlight;
            if (_guest.Events is { Enabled: true } events)
            {
                events.Publish(new GuestSubmitEvent(Index, slot, _type[slot].ToString(), _sector[slot], _dataLength[slot], chain.Length));
            }
        }
        return added;
    }

    /// <summary>Hostile path: writes QueueNotify whatever the device's event suppression says.</summary>
    internal void ForceKick()
    {
        if (Ring.HasUnkicked)
        {
            Ring.PrepareKick();
        }
        Notifications++;
        PublishKick(suppressed: false);
        _mmio.Write(MmioRegisters.QueueNotify, 4, (uint)Index);
    }

    private bool Submit(int slot, BlkRequestType type, ulong sector, int length, bool deviceWrites, ulong tag)
    {
        CheckReserved(slot);
        WriteHeader(slot, (uint)type, sector);
        Book(slot, type, sector, length, tag);
        Span<ChainDesc> chain = _chain;
        int n = 0;
        chain[n++] = new ChainDesc(HeaderAddress(slot), BlkLayout.HeaderSize, RingFlags.DescNext);
        ulong data = DataAddress(slot);
        ushort dataFlags = deviceWrites ? (ushort)(RingFlags.DescNext | RingFlags.DescWrite) : RingFlags.DescNext;
        for (int done = 0; done < length;)
        {
            int seg = Math.Min(_segmentBytes, length - done);
            chain[n++] = new ChainDesc(data + (ulong)done, (uint)seg, dataFlags);
            done += seg;
        }
        chain[n++] = new ChainDesc(StatusAddress(slot), 1, RingFlags.DescWrite);
        return AddChain(slot, chain[..n]);
    }

    private bool SubmitSegments(int slot, BlkRequestType type, ReadOnlySpan<BlkSegment> segments, ulong tag)
    {
        CheckReserved(slot);
        int bytes = segments.Length * BlkLayout.SegmentSize;
        if (bytes > _dataStride)
        {
            throw new ArgumentException($"{segments.Length} segments need {bytes} bytes, more than the slot buffer of {_dataStride}", nameof(segments));
        }
        Span<byte> buf = _arena.Span(DataAddress(slot), bytes);
        for (int i = 0; i < segments.Length; i++)
        {
            Span<byte> s = buf.Slice(i * BlkLayout.SegmentSize, BlkLayout.SegmentSize);
            BinaryPrimitives.WriteUInt64LittleEndian(s, segments[i].Sector);
            BinaryPrimitives.WriteUInt32LittleEndian(s[8..], segments[i].SectorCount);
            BinaryPrimitives.WriteUInt32LittleEndian(s[12..], segments[i].Flags);
        }
        WriteHeader(slot, (uint)type, 0);
        Book(slot, type, segments.Length > 0 ? segments[0].Sector : 0, bytes, tag);
        Span<ChainDesc> chain = _chain;
        chain[0] = new ChainDesc(HeaderAddress(slot), BlkLayout.HeaderSize, RingFlags.DescNext);
        chain[1] = new ChainDesc(DataAddress(slot), (uint)bytes, RingFlags.DescNext);
        chain[2] = new ChainDesc(StatusAddress(slot), 1, RingFlags.DescWrite);
        return AddChain(slot, chain[..3]);
    }

    private bool AddChain(int slot, ReadOnlySpan<ChainDesc> chain)
    {
        bool added;
        if (_guest.UsesIndirect && chain.Length > 3)
        {
            // Multi-segment requests go through the slot's indirect table: one ring descriptor whatever the size.
            ulong table = TableAddress(slot);
            added = Ring.TryAddIndirect(slot, chain, table, table, (uint)(chain.Length * RingFlags.DescriptorSize), 0);
        }
        else
        {
            if (chain.Length > Ring.Size)
            {
                throw new ArgumentException($"request needs {chain.Length} descriptors, more than the queue size {Ring.Size}, and indirect descriptors are not in use");
            }
            added = Ring.TryAddDirect(slot, chain);
        }
        if (added)
        {
            _state[slot] = SlotInFlight;
            if (_guest.Events is { Enabled: true } events)
            {
                events.Publish(new GuestSubmitEvent(Index, slot, _type[slot].ToString(), _sector[slot], _dataLength[slot], chain.Length));
            }
        }
        return added;
    }

    private unsafe void WriteHeader(int slot, uint type, ulong sector)
    {
        byte* h = _arena.Pointer(HeaderAddress(slot));
        BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(h, 4), type);
        BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(h + 4, 4), 0);
        BinaryPrimitives.WriteUInt64LittleEndian(new Span<byte>(h + 8, 8), sector);
        // Sentinel: a status the device never writes, so an unwritten status is visible.
        *_arena.Pointer(StatusAddress(slot)) = (byte)BlkCompletion.NotWritten;
    }

    private void Book(int slot, BlkRequestType type, ulong sector, int length, ulong tag)
    {
        _type[slot] = type;
        _sector[slot] = sector;
        _dataLength[slot] = length;
        _tag[slot] = tag;
        _usedLength[slot] = 0;
        _aborted[slot] = false;
    }

    private unsafe BlkStatus ReadStatus(int slot) => (BlkStatus)Volatile.Read(ref *_arena.Pointer(StatusAddress(slot)));

    private void PushCompleted(int slot)
    {
        _state[slot] = SlotCompleted;
        int tail = _completedHead + _completedCount;
        _completed[tail >= Depth ? tail - Depth : tail] = slot;
        _completedCount++;
    }

    private void Free(int slot)
    {
        _state[slot] = SlotFree;
        _freeSlots[_freeCount++] = slot;
    }

    private void CheckSlot(int slot)
    {
        if ((uint)slot >= (uint)Depth)
        {
            throw new ArgumentOutOfRangeException(nameof(slot), $"slot {slot} is outside 0..{Depth - 1}");
        }
    }

    private void CheckReserved(int slot)
    {
        CheckSlot(slot);
        if (_state[slot] != SlotReserved)
        {
            throw new InvalidOperationException($"slot {slot} of queue {Index} is not reserved");
        }
    }

    private void CheckData(ulong sector, int length)
    {
        if (length <= 0 || length % BlkLayout.SectorSize != 0 || length > _dataStride)
        {
            throw new ArgumentOutOfRangeException(nameof(length), $"data length {length} is not a positive multiple of 512 up to {_dataStride}");
        }
        ulong capacity = _guest.Config.Capacity;
        ulong sectors = (ulong)length / BlkLayout.SectorSize;
        if (sector > capacity || capacity - sector < sectors)
        {
            throw new ArgumentOutOfRangeException(nameof(sector), $"sectors {sector}..{sector + sectors} are beyond the capacity of {capacity} sectors");
        }
        if (length > _maxSegmentedBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(length), $"{length} bytes in {_segmentBytes}-byte segments exceed seg_max {_guest.Config.SegMax}");
        }
    }

    private void CheckSegments(ReadOnlySpan<BlkSegment> segments, uint maxSeg, uint maxSectors, bool allowUnmap, string what)
    {
        if (segments.IsEmpty)
        {
            throw new ArgumentException($"a {what} request needs at least one segment", nameof(segments));
        }
        if (maxSeg != 0 && (uint)segments.Length > maxSeg)
        {
            throw new ArgumentException($"{segments.Length} {what} segments exceed the device's limit of {maxSeg}", nameof(segments));
        }
        ulong capacity = _guest.Config.Capacity;
        foreach (BlkSegment s in segments)
        {
            if (s.SectorCount == 0 || s.Sector > capacity || capacity - s.Sector < s.SectorCount)
            {
                throw new ArgumentException($"{what} segment {s.Sector}+{s.SectorCount} is empty or beyond the capacity of {capacity} sectors", nameof(segments));
            }
            if (maxSectors != 0 && s.SectorCount > maxSectors)
            {
                throw new ArgumentException($"{what} segment of {s.SectorCount} sectors exceeds the device's limit of {maxSectors}", nameof(segments));
            }
            if (s.Flags != 0 && !(allowUnmap && s.Flags == BlkLayout.SegmentFlagUnmap))
            {
                throw new ArgumentException($"{what} segment flags 0x{s.Flags:x} are not allowed", nameof(segments));
            }
        }
    }

    private void RequireFeature(ulong bit, string name, string what)
    {
        if ((_guest.NegotiatedFeatures & bit) == 0)
        {
            throw new InvalidOperationException($"{what} needs {name}, which was not negotiated");
        }
    }
}
