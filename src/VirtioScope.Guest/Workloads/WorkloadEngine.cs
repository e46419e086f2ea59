using VirtioScope.Block;

namespace VirtioScope.Guest.Workloads;

/// <summary>
/// The request loop behind every workload: fill each queue up to the depth, kick once per batch, reap in bulk, and
/// account each completion. With verify it tracks a state byte per block (never written, generation 1..250,
/// zeroed, unknown) and a busy byte so that no two requests in flight touch the same block.
/// </summary>
/// <remarks>
/// Verify rule: a block written in this run must read back with its latest generation; a block zeroed by
/// write-zeroes must read as zeroes; a block whose last write failed, was aborted by a reset, or was discarded
/// (contents unspecified by the spec) is not checked; a never-written block must read as zeroes when
/// <see cref="WorkloadOptions.AssumeZeroedMedium"/> is set and is not checked otherwise.
/// </remarks>
internal sealed class WorkloadEngine : IBlkCompletionHandler
{
    /// <summary>Empty polls (no submission, no completion) before the queues are kicked again regardless of suppression.</summary>
    internal const int ForceKickAfter = 100;

    /// <summary>Empty polls before the device is declared unresponsive.</summary>
    internal const int IdleLimit = 1000;

    private const byte NeverWritten = 0;
    private const byte MaxGeneration = 250;
    private const byte Zeroed = 254;
    private const byte Unknown = 255;
    private const int BlockBits = 40;
    private const int MaxRangeBlocks = 4;

    private readonly VirtioBlkGuest _guest;
    private readonly WorkloadOptions _options;
    private readonly WorkloadKind _kind;
    private readonly WorkloadResult _result = new();
    private readonly ulong _blocks;
    private readonly ulong _sectorsPerBlock;
    private readonly byte[]? _state;
    private readonly byte[]? _busy;
    private readonly BlkSegment[] _segments = new BlkSegment[MaxRangeBlocks];
    private readonly byte[] _firstId = new byte[BlkLayout.IdBytes];
    private readonly int _flushEvery;
    private readonly bool _readOnly;
    private ulong _rng;
    private ulong _seqNext;
    private int _writesSinceFlush;
    private bool _flushPending;
    private bool _haveId;
    private ulong _verifyCursor;
    private bool _verifyPhase;
    private long _issued;
    private bool _exhausted;
    private HostileInjector? _hostile;

    public WorkloadEngine(VirtioBlkGuest guest, WorkloadOptions options)
    {
        _guest = guest;
        _options = options;
        _kind = (WorkloadKind)WorkloadRunner.IndexOf(options.Name);
        _result.Name = options.Name;
        _rng = (options.Seed * 0x9E37_79B9_7F4A_7C15UL) ^ 0xD1B5_4A32_D192_ED03UL;
        if (_rng == 0)
        {
            _rng = 1;
        }
        ulong bytes = guest.Config.CapacityBytes;
        if (options.WorkingSetBytes != 0)
        {
            bytes = Math.Min(bytes, options.WorkingSetBytes);
        }
        _blocks = bytes / (ulong)options.BlockSize;
        _sectorsPerBlock = (ulong)options.BlockSize / BlkLayout.SectorSize;
        _readOnly = (guest.NegotiatedFeatures & BlkFeatures.ReadOnly) != 0;
        _flushEvery = options.FlushEvery > 0 ? options.FlushEvery : _kind == WorkloadKind.Flush ? 1 : 0;
        CheckPreconditions();
        if (options.Verify && _blocks > int.MaxValue)
        {
            throw new ArgumentException($"verify tracks one byte per block: {_blocks} blocks of {options.BlockSize} bytes are too many; use a larger block size or a working set");
        }
        if (options.Verify)
        {
            _state = new byte[_blocks];
            _busy = new byte[_blocks];
        }
    }

    public WorkloadResult Run()
    {
        if (_kind == WorkloadKind.Hostile)
        {
            _hostile = new HostileInjector(_guest, this, _options.Seed);
            _hostile.Run(_options.Requests, Math.Max(1, Math.Min(_options.QueueDepth, 16)));
            _result.HostileCases = _hostile.Cases;
        }
        else
        {
            RunUntil(_options.Requests);
        }
        if (_state is not null)
        {
            RunVerifyPass();
        }
        return _result;
    }

    /// <summary>Issues requests until <paramref name="target"/> were issued and all have completed. Every wait is bounded.</summary>
    internal void RunUntil(long target)
    {
        int depth = _options.QueueDepth;
        int idle = 0;
        while ((_issued < target && !_exhausted) || _guest.Outstanding > 0)
        {
            if (_guest.NeedsReset)
            {
                Recover();
            }
            int submitted = 0;
            bool held = false;
            if (_options.Interjector is { } interjector)
            {
                submitted = interjector.SubmitDue(_guest, (ulong)OpKind.Interjected << 56, out held);
            }
            // An interjected request still waiting for a slot goes before any more of the workload's own.
            foreach (BlkQueue q in held ? [] : _guest.QueueArray)
            {
                int limit = Math.Min(depth, q.Depth);
                while (_issued < target && !_exhausted && q.Outstanding < limit && IssueOne(q))
                {
                    _issued++;
                    submitted++;
                }
            }
            _guest.KickAll();
            int done = _guest.ProcessCompletions(this);
            if (done != 0 || submitted != 0)
            {
                idle = 0;
                continue;
            }
            if (++idle == ForceKickAfter)
            {
                // A device that suppressed notifications and then forgot about them: kick anyway, as a watchdog would.
                foreach (BlkQueue q in _guest.QueueArray)
                {
                    q.ForceKick();
                }
            }
            else if (idle >= IdleLimit)
            {
                if (_hostile is null)
                {
                    throw new GuestDriverException($"the device stopped completing requests: {_guest.Outstanding} outstanding after {IdleLimit} polls");
                }
                Recover();
                idle = 0;
            }
        }
    }

    /// <summary>Resets and re-initialises the device; requests in flight come back aborted.</summary>
    internal void Recover()
    {
        _guest.Recover();
        _result.DeviceResets++;
        _guest.ProcessCompletions(this);
        _hostile?.OnRecovered();
    }

    internal void CountIssued() => _issued++;

    internal long Issued => _issued;

    /// <summary>Marks a block whose contents are no longer known (a malformed write may or may not have landed).</summary>
    internal void Forget(ulong block)
    {
        if (_state is not null && block < _blocks)
        {
            _state[block] = Unknown;
        }
    }

    internal ulong Blocks => _blocks;

    internal int BlockSize => _options.BlockSize;

    internal ulong NextRandom()
    {
        // xorshift64*: cheap, deterministic, good enough to spread offsets.
        ulong x = _rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        _rng = x;
        return x * 0x2545_F491_4F6C_DD1DUL;
    }

    /// <summary>A uniform value below <paramref name="bound"/>: multiply-high instead of a 64-bit division on the hot path.</summary>
    internal ulong NextBelow(ulong bound) => Math.BigMul(NextRandom(), bound, out _);

    public void OnCompleted(in BlkCompletion c, ReadOnlySpan<byte> data)
    {
        var op = (OpKind)(c.Tag >> 56);
        if (op == OpKind.Interjected)
        {
            _options.Interjector?.OnCompleted(c, data);
            return;
        }
        _result.Requests++;
        if (op == OpKind.Hostile)
        {
            CountStatus(c);
            _hostile?.OnCompleted(c);
            return;
        }
        CountStatus(c);
        ulong block = c.Tag & ((1UL << BlockBits) - 1);
        int count = (int)((c.Tag >> 48) & 0xff);
        var generation = (byte)((c.Tag >> BlockBits) & 0xff);
        switch (op)
        {
            case OpKind.Read:
            case OpKind.VerifyRead:
                if (c.IsOk)
                {
                    _result.BytesRead += c.DataLength;
                    if (_state is not null)
                    {
                        CheckRead(block, data);
                    }
                }
                break;
            case OpKind.Write:
                if (c.IsOk)
                {
                    _result.BytesWritten += c.DataLength;
                }
                SetState(block, 1, c.IsOk ? generation : Unknown);
                break;
            case OpKind.Discard:
                SetState(block, count, Unknown);
                break;
            case OpKind.WriteZeroes:
                SetState(block, count, c.IsOk ? Zeroed : Unknown);
                break;
            case OpKind.GetId:
                if (c.IsOk)
                {
                    CheckId(data);
                }
                break;
            default:
                break;
        }
        if (_busy is not null && op is OpKind.Read or OpKind.VerifyRead or OpKind.Write or OpKind.Discard or OpKind.WriteZeroes)
        {
            _busy.AsSpan((int)block, Math.Max(count, 1)).Clear();
        }
    }

    private void CountStatus(in BlkCompletion c)
    {
        StatusCounts s = _result.ErrorsByStatus;
        if (c.Aborted)
        {
            s.Aborted++;
            return;
        }
        switch (c.Status)
        {
            case BlkStatus.Ok:
                s.Ok++;
                break;
            case BlkStatus.IoErr:
                s.IoErr++;
                break;
            case BlkStatus.Unsupp:
                s.Unsupp++;
                break;
            default:
                s.NoStatus++;
                break;
        }
    }

    private void SetState(ulong block, int count, byte state)
    {
        if (_state is not null)
        {
            _state.AsSpan((int)block, Math.Max(count, 1)).Fill(state);
        }
    }

    private void CheckRead(ulong block, ReadOnlySpan<byte> data)
    {
        byte state = _state![block];
        ulong offset = block * (ulong)_options.BlockSize;
        if (state == Unknown || (state == NeverWritten && !_options.AssumeZeroedMedium))
        {
            return;
        }
        _result.Verified++;
        if (state is NeverWritten or Zeroed)
        {
            int at = data.IndexOfAnyExcept((byte)0);
            if (at >= 0)
            {
                _result.AddVerifyFailure($"block at byte {offset} should read as zeroes ({(state == Zeroed ? "write-zeroes" : "never written")}) but byte {at} is 0x{data[at]:x2}");
            }
            return;
        }
        string? problem = VerifyPattern.Check(data, offset, _options.Seed, state);
        if (problem is not null)
        {
            _result.AddVerifyFailure(problem);
        }
    }

    private void CheckId(ReadOnlySpan<byte> id)
    {
        if (!_options.Verify)
        {
            return;
        }
        _result.Verified++;
        if (!_haveId)
        {
            id.CopyTo(_firstId);
            _haveId = true;
            int end = id.IndexOf((byte)0);
            ReadOnlySpan<byte> text = end < 0 ? id : id[..end];
            if (text.IndexOfAnyExceptInRange((byte)0x20, (byte)0x7e) >= 0 || (end >= 0 && id[end..].IndexOfAnyExcept((byte)0) >= 0))
            {
                _result.AddVerifyFailure("GET_ID answer is not printable ASCII padded with NULs");
            }
        }
        else if (!id.SequenceEqual(_firstId))
        {
            _result.AddVerifyFailure("GET_ID answered differently from the first time");
        }
    }

    private void CheckPreconditions()
    {
        ulong f = _guest.NegotiatedFeatures;
        if (_blocks == 0)
        {
            throw new ArgumentException($"the device ({_guest.Config.CapacityBytes} bytes) holds no whole block of {_options.BlockSize} bytes");
        }
        if (_options.BlockSize > _guest.Options.MaxRequestBytes)
        {
            throw new ArgumentException($"block size {_options.BlockSize} exceeds the driver's request buffers of {_guest.Options.MaxRequestBytes} bytes");
        }
        bool writes = _kind is WorkloadKind.SeqWrite or WorkloadKind.RandWrite or WorkloadKind.Flush or WorkloadKind.Discard or WorkloadKind.WriteZeroes
            || (_kind == WorkloadKind.RandRw && _options.RwMixPercent < 100);
        if (writes && _readOnly)
        {
            throw new GuestDriverException($"the device is read-only (VIRTIO_BLK_F_RO); the {_options.Name} workload writes");
        }
        if (_flushEvery > 0 && (f & BlkFeatures.Flush) == 0)
        {
            throw new GuestDriverException("flushing needs VIRTIO_BLK_F_FLUSH, which the device did not negotiate");
        }
        if (_kind == WorkloadKind.Discard && (f & BlkFeatures.Discard) == 0)
        {
            throw new GuestDriverException("the discard workload needs VIRTIO_BLK_F_DISCARD, which the device did not negotiate");
        }
        if (_kind == WorkloadKind.WriteZeroes && (f & BlkFeatures.WriteZeroes) == 0)
        {
            throw new GuestDriverException("the write-zeroes workload needs VIRTIO_BLK_F_WRITE_ZEROES, which the device did not negotiate");
        }
    }

    private OpKind ChooseOp()
    {
        if (_verifyPhase)
        {
            return OpKind.VerifyRead;
        }
        switch (_kind)
        {
            case WorkloadKind.SeqRead:
            case WorkloadKind.RandRead:
                return OpKind.Read;
            case WorkloadKind.SeqWrite:
            case WorkloadKind.RandWrite:
            case WorkloadKind.Flush:
                return OpKind.Write;
            case WorkloadKind.RandRw:
            case WorkloadKind.Hostile:
                return _readOnly || (int)NextBelow(100) < _options.RwMixPercent ? OpKind.Read : OpKind.Write;
            case WorkloadKind.Discard:
                // One request in four writes, so that discards land on data and verify has something to check.
                return NextRandom() % 4 == 0 ? OpKind.Write : OpKind.Discard;
            case WorkloadKind.WriteZeroes:
                return NextRandom() % 4 == 0 ? OpKind.Write : OpKind.WriteZeroes;
            default:
                return OpKind.GetId;
        }
    }

    private bool IssueOne(BlkQueue q)
    {
        if (_flushPending)
        {
            // FLUSH covers writes that completed before it was submitted: wait for the ones in flight.
            if (_guest.Outstanding > 0)
            {
                return false;
            }
            int fs = q.TryReserve();
            if (fs < 0)
            {
                return false;
            }
            if (!q.SubmitFlush(fs, (ulong)OpKind.Flush << 56))
            {
                q.Release(fs);
                return false;
            }
            _flushPending = false;
            return true;
        }
        OpKind op = ChooseOp();
        if (op == OpKind.GetId)
        {
            int gs = q.TryReserve();
            if (gs < 0)
            {
                return false;
            }
            if (!q.SubmitGetId(gs, (ulong)OpKind.GetId << 56))
            {
                q.Release(gs);
                return false;
            }
            return true;
        }
        int count = op is OpKind.Discard or OpKind.WriteZeroes ? 1 + (int)(NextRandom() % MaxRangeBlocks) : 1;
        long picked = op == OpKind.VerifyRead ? NextVerifyBlock() : PickBlocks(count);
        if (picked < 0)
        {
            return false;
        }
        ulong block = (ulong)picked;
        int slot = q.TryReserve();
        if (slot < 0)
        {
            return false;
        }
        ulong sector = block * _sectorsPerBlock;
        byte generation = 0;
        if (op == OpKind.Write && _state is not null)
        {
            byte old = _state[block];
            generation = old is >= 1 and < MaxGeneration ? (byte)(old + 1) : (byte)1;
            VerifyPattern.Fill(q.GetBuffer(slot)[.._options.BlockSize], block * (ulong)_options.BlockSize, _options.Seed, generation);
        }
        ulong tag = ((ulong)op << 56) | ((ulong)count << 48) | ((ulong)generation << BlockBits) | block;
        bool ok = op switch
        {
            OpKind.Read or OpKind.VerifyRead => q.SubmitRead(slot, sector, _options.BlockSize, tag),
            OpKind.Write => q.SubmitWrite(slot, sector, _options.BlockSize, tag),
            OpKind.Discard => q.SubmitDiscard(slot, Ranges(block, count, 0), tag),
            _ => q.SubmitWriteZeroes(slot, Ranges(block, count, (NextRandom() & 1) != 0 ? BlkLayout.SegmentFlagUnmap : 0), tag),
        };
        if (!ok)
        {
            q.Release(slot);
            if (op == OpKind.VerifyRead)
            {
                _verifyCursor = block;
            }
            return false;
        }
        if (_busy is not null)
        {
            _busy.AsSpan((int)block, count).Fill(1);
        }
        if (op == OpKind.Write && _flushEvery > 0 && ++_writesSinceFlush >= _flushEvery)
        {
            _writesSinceFlush = 0;
            _flushPending = true;
        }
        return true;
    }

    private ReadOnlySpan<BlkSegment> Ranges(ulong block, int count, uint flags)
    {
        // Adjacent one-block segments: a multi-segment request whose blocks the tag can still name.
        for (int i = 0; i < count; i++)
        {
            _segments[i] = new BlkSegment((block + (ulong)i) * _sectorsPerBlock, (uint)_sectorsPerBlock, flags);
        }
        return _segments.AsSpan(0, count);
    }

    private long PickBlocks(int count)
    {
        if ((ulong)count > _blocks)
        {
            count = (int)_blocks;
        }
        bool sequential = _kind is WorkloadKind.SeqRead or WorkloadKind.SeqWrite or WorkloadKind.Flush;
        ulong span = _blocks - (ulong)count + 1;
        ulong block;
        if (sequential)
        {
            block = _seqNext >= span ? 0 : _seqNext;
            _seqNext = block + (ulong)count;
        }
        else
        {
            block = NextBelow(span);
        }
        if (_busy is null)
        {
            return (long)block;
        }
        // Probe forward past blocks that a request in flight is using, so results never depend on device ordering.
        for (int probe = 0; probe < 64; probe++)
        {
            if (_busy.AsSpan((int)block, count).IndexOfAnyExcept((byte)0) < 0)
            {
                return (long)block;
            }
            block = block + 1 >= span ? 0 : block + 1;
        }
        return -1;
    }

    private long NextVerifyBlock()
    {
        byte[] state = _state!;
        while (_verifyCursor < _blocks)
        {
            ulong b = _verifyCursor++;
            byte s = state[b];
            if (s != Unknown && s != NeverWritten && _busy![b] == 0)
            {
                return (long)b;
            }
        }
        // Every known block has been read back: a reset that aborted some verify reads must not leave the loop waiting.
        _exhausted = true;
        return -1;
    }

    private void RunVerifyPass()
    {
        long known = 0;
        foreach (byte s in _state!)
        {
            if (s != Unknown && s != NeverWritten)
            {
                known++;
            }
        }
        if (known == 0)
        {
            return;
        }
        _verifyPhase = true;
        _verifyCursor = 0;
        _flushPending = false;
        RunUntil(_issued + known);
        _verifyPhase = false;
        _exhausted = false;
    }
}
