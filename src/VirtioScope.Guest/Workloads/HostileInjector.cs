using System.Buffers.Binary;
using VirtioScope.Block;
using VirtioScope.Guest.Rings;
using VirtioScope.Virtio;

namespace VirtioScope.Guest.Workloads;

/// <summary>
/// The hostile workload: batches of well-formed random reads and writes (verified when asked) with one malformed
/// request between batches, cycling through every <see cref="HostileCase"/> that applies to the negotiated features.
/// Each malformed request is injected on a drained queue 0, so its outcome is unambiguous: a status byte, no status,
/// DEVICE_NEEDS_RESET, or silence within a bounded number of polls. After DEVICE_NEEDS_RESET, silence, or a ring
/// update that necessarily breaks the queue, the guest resets and re-initialises the device and carries on.
/// </summary>
internal sealed class HostileInjector
{
    /// <summary>Polls after the kick before a malformed request counts as unanswered.</summary>
    internal const int AnswerPolls = 50;

    /// <summary>An address no guest memory layout here uses.</summary>
    private const ulong Outside = 0xffff_ff00_0000_0000;

    private const ulong Tag = (ulong)OpKind.Hostile << 56;

    private readonly VirtioBlkGuest _guest;
    private readonly WorkloadEngine _engine;
    private readonly HostileCaseResult[] _cases;
    private readonly ChainDesc[] _chain;
    private ulong _bigTable;
    private ulong _nestedTable;
    private ulong _bigBuffer;
    private int _next;
    private bool _awaiting;
    private bool _answered;
    private HostileCaseResult? _current;

    public HostileInjector(VirtioBlkGuest guest, WorkloadEngine engine, ulong seed)
    {
        _guest = guest;
        _engine = engine;
        _next = (int)(seed % (ulong)Enum.GetValues<HostileCase>().Length);
        HostileCase[] all = Enum.GetValues<HostileCase>();
        _cases = new HostileCaseResult[all.Length];
        for (int i = 0; i < all.Length; i++)
        {
            (string text, HostileOutcome allowed) = Expectation(all[i]);
            _cases[i] = new HostileCaseResult(all[i].ToString(), text, allowed);
        }
        _chain = new ChainDesc[Math.Max(guest.Queues[0].Size + 2, 2 + (int)Math.Max(guest.Config.SegMax, 1) + 1)];
        OnRecovered();
    }

    public IReadOnlyList<HostileCaseResult> Cases => _cases;

    /// <summary>Issues <paramref name="requests"/> requests: batches of <paramref name="batch"/> well-formed ones, then one malformed.</summary>
    public void Run(long requests, int batch)
    {
        while (_engine.Issued < requests)
        {
            _engine.RunUntil(Math.Min(requests, _engine.Issued + batch));
            if (_engine.Issued >= requests)
            {
                break;
            }
            InjectNext();
            _engine.CountIssued();
        }
    }

    /// <summary>Scratch tables live after the queues; a re-initialisation gives them back, so take them again.</summary>
    public void OnRecovered()
    {
        int size = _guest.Queues[0].Size;
        int entries = Math.Max(size + 1, (int)_guest.Config.SegMax + 3);
        _bigTable = _guest.AllocateScratch((ulong)entries * RingFlags.DescriptorSize, 16);
        _nestedTable = _guest.AllocateScratch(3 * RingFlags.DescriptorSize, 16);
        _bigBuffer = SizeMaxFits() ? _guest.AllocateScratch(_guest.Config.SizeMax + 512UL, 4096) : 0;
    }

    public void OnCompleted(in BlkCompletion c)
    {
        if (!_awaiting || c.Aborted || _current is null)
        {
            return;
        }
        _answered = true;
        if (!c.StatusWritten)
        {
            _current.NoStatus++;
        }
        else if (c.Status == BlkStatus.Ok)
        {
            _current.Ok++;
        }
        else if (c.Status == BlkStatus.IoErr)
        {
            _current.IoErr++;
        }
        else if (c.Status == BlkStatus.Unsupp)
        {
            _current.Unsupp++;
        }
        else
        {
            _current.NoStatus++;
        }
    }

    private void InjectNext()
    {
        HostileCase k = NextApplicable();
        HostileCaseResult result = _cases[(int)k];
        BlkQueue q = _guest.Queues[0];
        int slot = q.TryReserve();
        if (slot < 0)
        {
            throw new GuestDriverException("hostile workload: queue 0 has no free slot after draining");
        }
        result.Injected++;
        _current = result;
        _awaiting = true;
        _answered = false;
        bool breaksQueue = false;
        if (k == HostileCase.AvailIdxJump)
        {
            q.Release(slot);
            ((SplitVirtqueue)q.Ring).RawAdvanceAvailIdx(q.Size + 1);
            breaksQueue = true;
        }
        else if (k == HostileCase.HeadOutOfRange)
        {
            q.Release(slot);
            ((SplitVirtqueue)q.Ring).RawPushAvail((ushort)(q.Size + 3));
            breaksQueue = true;
        }
        else if (!Submit(k, q, slot))
        {
            q.Release(slot);
            throw new GuestDriverException($"hostile workload: queue 0 had no room for the {k} request after draining");
        }
        q.ForceKick();
        bool needsReset = false;
        for (int poll = 0; poll < AnswerPolls && !_answered; poll++)
        {
            _guest.ProcessCompletions(_engine);
            if (_answered)
            {
                break;
            }
            if (_guest.NeedsReset || (_guest.ReadStatus() & DeviceStatus.DeviceNeedsReset) != 0)
            {
                needsReset = true;
                break;
            }
        }
        if (!_answered && !needsReset && breaksQueue && (_guest.ReadStatus() & DeviceStatus.DeviceNeedsReset) != 0)
        {
            needsReset = true;
        }
        if (needsReset)
        {
            result.NeedsReset++;
        }
        else if (!_answered)
        {
            result.Unanswered++;
        }
        _awaiting = false;
        _current = null;
        if (needsReset || !_answered || breaksQueue)
        {
            _engine.Recover();
        }
    }

    private HostileCase NextApplicable()
    {
        int n = _cases.Length;
        for (int i = 0; i < n; i++)
        {
            var k = (HostileCase)((_next + i) % n);
            if (Applies(k))
            {
                _next = (int)k + 1;
                return k;
            }
        }
        throw new GuestDriverException("hostile workload: no malformation applies to this device");
    }

    private bool Applies(HostileCase k)
    {
        bool packed = _guest.UsesPacked;
        bool indirect = _guest.UsesIndirect;
        ulong f = _guest.NegotiatedFeatures;
        return k switch
        {
            HostileCase.DescriptorLoop or HostileCase.AvailIdxJump or HostileCase.HeadOutOfRange => !packed,
            HostileCase.NestedIndirect or HostileCase.IndirectBadLength or HostileCase.IndirectOutsideMemory => indirect,
            HostileCase.IndirectWithoutFeature => !indirect,
            HostileCase.DataCrossesMemoryEnd => _guest.Options.ArenaSize == 0,
            HostileCase.TooManySegments => (f & BlkFeatures.SegMax) != 0 && _guest.Config.SegMax > 0
                && (indirect || _guest.Config.SegMax + 3 <= (uint)_guest.Queues[0].Size),
            HostileCase.WriteToReadOnly => (f & BlkFeatures.ReadOnly) != 0,
            HostileCase.SegmentOverSizeMax => _bigBuffer != 0,
            HostileCase.DiscardTooManySegments => (f & BlkFeatures.Discard) != 0 && _guest.Config.MaxDiscardSeg > 0
                && (_guest.Config.MaxDiscardSeg + 1) * BlkLayout.SegmentSize <= (uint)_guest.Queues[0].MaxRequestBytes,
            _ => true,
        };
    }

    /// <summary>What the spec asks of the device for each malformation.</summary>
    private static (string Text, HostileOutcome Allowed) Expectation(HostileCase k)
    {
        const HostileOutcome Rejected = HostileOutcome.IoErr | HostileOutcome.NoStatus | HostileOutcome.NeedsReset;
        return k switch
        {
            HostileCase.DescriptorLoop or HostileCase.ChainLongerThanQueue => ("chain rejected (IOERR, no status, or NEEDS_RESET); never an endless walk", Rejected),
            HostileCase.NestedIndirect or HostileCase.IndirectBadLength or HostileCase.IndirectOutsideMemory or HostileCase.IndirectWithoutFeature
                => ("indirect table rejected (IOERR, no status, or NEEDS_RESET)", Rejected),
            HostileCase.AvailIdxJump or HostileCase.HeadOutOfRange => ("DEVICE_NEEDS_RESET and a configuration-change interrupt", HostileOutcome.NeedsReset),
            HostileCase.StatusReadOnly or HostileCase.NoStatusDescriptor
                => ("returned without a status byte (nowhere to write one)", HostileOutcome.NoStatus | HostileOutcome.NeedsReset),
            HostileCase.UnsupportedType or HostileCase.DiscardWithUnmap => ("UNSUPP", HostileOutcome.Unsupp),
            HostileCase.DiscardTooManySegments => ("IOERR or UNSUPP", HostileOutcome.IoErr | HostileOutcome.Unsupp),
            _ => ("IOERR", HostileOutcome.IoErr),
        };
    }

    private bool Submit(HostileCase k, BlkQueue q, int slot)
    {
        ulong hdr = q.HeaderAddress(slot);
        ulong st = q.StatusAddress(slot);
        ulong data = q.DataAddress(slot);
        ulong block = _engine.NextBelow(_engine.Blocks);
        ulong sector = block * (ulong)(_engine.BlockSize / BlkLayout.SectorSize);
        const ushort N = RingFlags.DescNext;
        const ushort W = RingFlags.DescWrite;
        const uint In = (uint)BlkRequestType.In;
        const uint Out = (uint)BlkRequestType.Out;
        Span<ChainDesc> c = _chain;
        RawIndirect direct = default;
        c[0] = new ChainDesc(hdr, BlkLayout.HeaderSize, N);
        c[1] = new ChainDesc(data, 512, N | W);
        c[2] = new ChainDesc(st, 1, W);
        switch (k)
        {
            case HostileCase.DescriptorLoop:
                c[2] = new ChainDesc(st, 1, N | W) { Link = 0 };
                return q.SubmitRaw(slot, In, sector, 512, c[..3], direct, Tag);
            case HostileCase.ChainLongerThanQueue:
                return SubmitTooLong(q, slot, sector, c);
            case HostileCase.NestedIndirect:
            {
                WriteTable(_nestedTable, hdr, data, st);
                c[1] = new ChainDesc(_nestedTable, 3 * RingFlags.DescriptorSize, (ushort)(RingFlags.DescIndirect | N));
                ulong table = q.TableAddress(slot);
                return q.SubmitRaw(slot, In, sector, 512, c[..3], new RawIndirect(true, table, table, 3 * RingFlags.DescriptorSize, 0), Tag);
            }
            case HostileCase.IndirectBadLength:
            {
                ulong table = q.TableAddress(slot);
                return q.SubmitRaw(slot, In, sector, 512, c[..3], new RawIndirect(true, table, table, (3 * RingFlags.DescriptorSize) + 8, 0), Tag);
            }
            case HostileCase.IndirectOutsideMemory:
                return q.SubmitRaw(slot, In, sector, 512, c[..3], new RawIndirect(true, q.TableAddress(slot), Outside, 3 * RingFlags.DescriptorSize, 0), Tag);
            case HostileCase.IndirectWithoutFeature:
            {
                ulong table = q.TableAddress(slot);
                return q.SubmitRaw(slot, In, sector, 512, c[..3], new RawIndirect(true, table, table, 3 * RingFlags.DescriptorSize, 0), Tag);
            }
            case HostileCase.DataOutsideMemory:
                c[1] = new ChainDesc(Outside, 512, N | W);
                return q.SubmitRaw(slot, In, sector, 512, c[..3], direct, Tag);
            case HostileCase.DataCrossesMemoryEnd:
                c[1] = new ChainDesc(_guest.Allocator.Start + _guest.Allocator.Size - 256, 512, N | W);
                return q.SubmitRaw(slot, In, sector, 512, c[..3], direct, Tag);
            case HostileCase.HeaderDeviceWritable:
                c[0] = new ChainDesc(hdr, BlkLayout.HeaderSize, N | W);
                return q.SubmitRaw(slot, In, sector, 512, c[..3], direct, Tag);
            case HostileCase.StatusReadOnly:
                c[2] = new ChainDesc(st, 1, 0);
                return q.SubmitRaw(slot, In, sector, 512, c[..3], direct, Tag);
            case HostileCase.NoStatusDescriptor:
                c[0] = new ChainDesc(hdr, BlkLayout.HeaderSize, 0);
                return q.SubmitRaw(slot, In, sector, 0, c[..1], direct, Tag);
            case HostileCase.ReadIntoReadOnlyBuffer:
                c[1] = new ChainDesc(data, 512, N);
                return q.SubmitRaw(slot, In, sector, 512, c[..3], direct, Tag);
            case HostileCase.WriteFromWritableBuffer:
                _engine.Forget(block);
                return q.SubmitRaw(slot, Out, sector, 512, c[..3], direct, Tag);
            case HostileCase.LengthNotMultipleOf512:
                c[1] = new ChainDesc(data, 1000, N | W);
                return q.SubmitRaw(slot, In, sector, 1000, c[..3], direct, Tag);
            case HostileCase.SectorBeyondCapacity:
                c[1] = new ChainDesc(data, 4096, N | W);
                return q.SubmitRaw(slot, In, _guest.Config.Capacity - 1, 4096, c[..3], direct, Tag);
            case HostileCase.SectorOverflow:
                c[1] = new ChainDesc(data, 4096, N | W);
                return q.SubmitRaw(slot, In, ulong.MaxValue - 3, 4096, c[..3], direct, Tag);
            case HostileCase.TooManySegments:
                return SubmitTooManySegments(q, slot, sector, c);
            case HostileCase.SegmentOverSizeMax:
            {
                // One data descriptor 512 bytes longer than size_max allows.
                uint length = _guest.Config.SizeMax + 512;
                c[1] = new ChainDesc(_bigBuffer, length, N | W);
                return q.SubmitRaw(slot, In, 0, (int)length, c[..3], direct, Tag);
            }
            case HostileCase.DiscardTooManySegments:
            {
                int segs = (int)_guest.Config.MaxDiscardSeg + 1;
                Span<byte> buf = q.GetBuffer(slot);
                ulong perSegment = (ulong)(_engine.BlockSize / BlkLayout.SectorSize);
                for (int i = 0; i < segs; i++)
                {
                    Span<byte> seg = buf.Slice(i * BlkLayout.SegmentSize, BlkLayout.SegmentSize);
                    BinaryPrimitives.WriteUInt64LittleEndian(seg, ((ulong)i * perSegment) % _guest.Config.Capacity);
                    BinaryPrimitives.WriteUInt32LittleEndian(seg[8..], 1);
                    BinaryPrimitives.WriteUInt32LittleEndian(seg[12..], 0);
                    _engine.Forget((ulong)i % _engine.Blocks);
                }
                c[1] = new ChainDesc(data, (uint)(segs * BlkLayout.SegmentSize), N);
                return q.SubmitRaw(slot, (uint)BlkRequestType.Discard, 0, segs * BlkLayout.SegmentSize, c[..3], direct, Tag);
            }
            case HostileCase.UnsupportedType:
                c[1] = c[2];
                return q.SubmitRaw(slot, 99, 0, 0, c[..2], direct, Tag);
            case HostileCase.DiscardWithUnmap:
            {
                Span<byte> seg = q.GetBuffer(slot)[..BlkLayout.SegmentSize];
                BinaryPrimitives.WriteUInt64LittleEndian(seg, sector);
                BinaryPrimitives.WriteUInt32LittleEndian(seg[8..], 1);
                BinaryPrimitives.WriteUInt32LittleEndian(seg[12..], BlkLayout.SegmentFlagUnmap);
                c[1] = new ChainDesc(data, BlkLayout.SegmentSize, N);
                _engine.Forget(block);
                return q.SubmitRaw(slot, (uint)BlkRequestType.Discard, 0, BlkLayout.SegmentSize, c[..3], direct, Tag);
            }
            default:
                // WriteToReadOnly: a well-formed write the driver would never send to a read-only device.
                c[1] = new ChainDesc(data, 512, N);
                _engine.Forget(block);
                return q.SubmitRaw(slot, Out, sector, 512, c[..3], direct, Tag);
        }
    }

    private bool SizeMaxFits() => (_guest.NegotiatedFeatures & BlkFeatures.SizeMax) != 0 && _guest.Config.SizeMax is > 0 and <= 1 << 20
        && _guest.Allocator.Remaining > _guest.Config.SizeMax + (64UL << 10);

    private bool SubmitTooLong(BlkQueue q, int slot, ulong sector, Span<ChainDesc> c)
    {
        int size = q.Size;
        const ushort N = RingFlags.DescNext;
        const ushort W = RingFlags.DescWrite;
        ulong data = q.DataAddress(slot);
        if (_guest.UsesIndirect)
        {
            // One more entry than the queue size, behind a single ring descriptor.
            int n = size + 1;
            for (int i = 1; i < n - 1; i++)
            {
                c[i] = new ChainDesc(data, 512, N | W);
            }
            c[n - 1] = new ChainDesc(q.StatusAddress(slot), 1, W);
            return q.SubmitRaw(slot, (uint)BlkRequestType.In, sector, (n - 2) * 512, c[..n],
                new RawIndirect(true, _bigTable, _bigTable, (uint)(n * RingFlags.DescriptorSize), 0), Tag);
        }
        // Every ring descriptor in one chain whose last still says NEXT: split links it back to the first, packed
        // runs into the ring's next lap.
        for (int i = 1; i < size - 1; i++)
        {
            c[i] = new ChainDesc(data, 512, N | W);
        }
        c[size - 1] = new ChainDesc(q.StatusAddress(slot), 1, N | W) { Link = 0 };
        return q.SubmitRaw(slot, (uint)BlkRequestType.In, sector, (size - 2) * 512, c[..size], default, Tag);
    }

    private bool SubmitTooManySegments(BlkQueue q, int slot, ulong sector, Span<ChainDesc> c)
    {
        int segs = (int)_guest.Config.SegMax + 1;
        int n = segs + 2;
        ulong data = q.DataAddress(slot);
        for (int i = 1; i <= segs; i++)
        {
            c[i] = new ChainDesc(data + (ulong)((i - 1) % 8 * 512), 512, RingFlags.DescNext | RingFlags.DescWrite);
        }
        c[n - 1] = new ChainDesc(q.StatusAddress(slot), 1, RingFlags.DescWrite);
        RawIndirect indirect = _guest.UsesIndirect
            ? new RawIndirect(true, _bigTable, _bigTable, (uint)(n * RingFlags.DescriptorSize), 0)
            : default;
        return q.SubmitRaw(slot, (uint)BlkRequestType.In, sector, segs * 512, c[..n], indirect, Tag);
    }

    private void WriteTable(ulong at, ulong hdr, ulong data, ulong st)
    {
        Span<byte> t = _guest.ArenaSpan(at, 3 * RingFlags.DescriptorSize);
        WriteDesc(t, hdr, BlkLayout.HeaderSize, RingFlags.DescNext, 1);
        WriteDesc(t[16..], data, 512, RingFlags.DescNext | RingFlags.DescWrite, 2);
        WriteDesc(t[32..], st, 1, RingFlags.DescWrite, 0);
    }

    private static void WriteDesc(Span<byte> d, ulong addr, uint len, ushort flags, ushort next)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(d, addr);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], len);
        BinaryPrimitives.WriteUInt16LittleEndian(d[12..], flags);
        BinaryPrimitives.WriteUInt16LittleEndian(d[14..], next);
    }
}
