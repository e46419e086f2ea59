using VirtioScope.Block;
using VirtioScope.Debugger;
using VirtioScope.Memory;
using VirtioScope.VhostUser;
using VirtioScope.Virtio.Events;
using VirtioScope.Virtio.Queues;

namespace VirtioScope.VhostDebug;

/// <summary>
/// The debugger over a live vhost-user-blk back-end: it is the device's <see cref="IRequestGate"/>, so pausing means
/// the queue workers stop taking requests (the guest simply waits), a step lets exactly one request through and pauses
/// once it completes, and a breakpoint pauses after the matching request completes. It keeps the last requests (chain,
/// decoded request, completion) and events. Other rings may finish the one request they were already taking when a
/// stop happens; nothing more is taken after it.
/// </summary>
public sealed class VhostDebugController : IRequestGate, IDisposable
{
    /// <summary>Requests kept for <c>request</c>.</summary>
    public const int KeptRequests = 64;

    /// <summary>Events kept for <c>events</c>.</summary>
    public const int KeptEvents = 1024;

    private readonly VhostUserBlkBackend _backend;
    private readonly object _sync = new();
    private readonly LinkedList<VhostRequest> _requests = new();
    private readonly Dictionary<(int Queue, ushort Id), VhostRequest> _inFlight = [];
    private readonly Queue<EventRow> _events = new();
    private readonly List<VhostBreakpoint> _breakpoints = [];
    private readonly long[] _completedPerQueue;
    private readonly IDisposable _subscription;
    private volatile VhostRunState _state;
    private int _stepBudget;
    private VhostRequest? _stepped;
    private VhostRequest? _stopRequest;
    private string _reason;
    private int _stopBreakpoint;
    private int _nextBreakpoint = 1;
    private long _taken;
    private long _completions;
    private long _held;

    /// <summary>Attaches to <paramref name="backend"/>, starting paused unless <paramref name="initial"/> is Running.</summary>
    public VhostDebugController(VhostUserBlkBackend backend, VhostRunState initial = VhostRunState.Paused)
    {
        ArgumentNullException.ThrowIfNull(backend);
        _backend = backend;
        _state = initial == VhostRunState.Running ? VhostRunState.Running : VhostRunState.Paused;
        _reason = _state == VhostRunState.Paused ? "started paused" : "running";
        _completedPerQueue = new long[backend.Device.QueueCount];
        _subscription = backend.Events.Subscribe(OnEvent);
        backend.Device.Gate = this;
    }

    /// <summary>The back-end being debugged.</summary>
    public VhostUserBlkBackend Backend => _backend;

    /// <summary>Running, paused or stepping.</summary>
    public VhostRunState State => _state;

    /// <summary>Why the session last stopped (or what it is doing).</summary>
    public string Reason
    {
        get
        {
            lock (_sync)
            {
                return _reason;
            }
        }
    }

    /// <summary>Requests completed while attached.</summary>
    public long Completions => Interlocked.Read(ref _completions);

    /// <summary>Requests taken from the rings while attached.</summary>
    public long Taken => Interlocked.Read(ref _taken);

    /// <summary>Times a queue worker asked to take a request and was held back.</summary>
    public long Held => Interlocked.Read(ref _held);

    /// <inheritdoc />
    public bool MayTake(int queue, VirtQueue virtQueue, GuestMemory memory)
    {
        if (!Admit(virtQueue, memory))
        {
            Interlocked.Increment(ref _held);
            return false;
        }
        return true;
    }

    private bool Admit(VirtQueue virtQueue, GuestMemory memory)
    {
        VhostRunState state = _state;
        if (state != VhostRunState.Stepping)
        {
            return state == VhostRunState.Running;
        }
        lock (_sync)
        {
            // One grant per step across all rings, and only for a request that is really there, so a worker that
            // finds its ring empty does not use up the step.
            if (_state != VhostRunState.Stepping || _stepBudget == 0 || !RingPeek.HasAvailable(virtQueue, memory))
            {
                return _state == VhostRunState.Running;
            }
            _stepBudget--;
            return true;
        }
    }

    /// <summary>Stops taking requests. A request a worker is already executing still completes.</summary>
    public VhostMoveResult Pause()
    {
        lock (_sync)
        {
            _stepBudget = 0;
            Stop("paused", 0, null);
            return Move();
        }
    }

    /// <summary>Takes requests again; with breakpoints set, waits up to <paramref name="timeout"/> for one to stop the session.</summary>
    public VhostMoveResult Continue(TimeSpan timeout)
    {
        bool wait;
        lock (_sync)
        {
            _state = VhostRunState.Running;
            _reason = "continued: requests are taken as the guest makes them";
            _stopBreakpoint = 0;
            _stopRequest = null;
            wait = _breakpoints.Count > 0;
        }
        _backend.WakeRings();
        lock (_sync)
        {
            if (wait && !WaitLocked(() => _state == VhostRunState.Paused, timeout))
            {
                _reason = $"running: no breakpoint hit within {timeout.TotalSeconds:0.#} s";
            }
            return Move();
        }
    }

    /// <summary>
    /// Lets exactly one request through and waits until it completes (pausing there). If the guest makes no request
    /// within <paramref name="timeout"/>, the session stays paused and the result says so.
    /// </summary>
    public VhostMoveResult Step(TimeSpan timeout)
    {
        lock (_sync)
        {
            _state = VhostRunState.Stepping;
            _reason = "stepping";
            _stepBudget = 1;
            _stepped = null;
            _stopRequest = null;
            _stopBreakpoint = 0;
        }
        _backend.WakeRings();
        lock (_sync)
        {
            if (!WaitLocked(() => _state == VhostRunState.Paused, timeout))
            {
                if (_stepBudget == 1)
                {
                    _stepBudget = 0;
                    Stop($"no request arrived within {timeout.TotalSeconds:0.#} s", 0, null);
                }
                else
                {
                    // The request was taken: it is in the back-end's hands and will complete; wait for it, bounded again.
                    WaitLocked(() => _state == VhostRunState.Paused, timeout);
                }
            }
            return Move();
        }
    }

    /// <summary>Waits until the session is paused (a breakpoint, a step or pause), at most <paramref name="timeout"/>.</summary>
    public bool WaitPaused(TimeSpan timeout)
    {
        lock (_sync)
        {
            return WaitLocked(() => _state == VhostRunState.Paused, timeout);
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> requests completed, at most <paramref name="timeout"/>.</summary>
    public bool WaitCompletions(long count, TimeSpan timeout)
    {
        lock (_sync)
        {
            return WaitLocked(() => _completions >= count, timeout);
        }
    }

    /// <summary>Waits until a front-end has started a ring, at most <paramref name="timeout"/>.</summary>
    public bool WaitConnected(TimeSpan timeout)
    {
        return SpinWait.SpinUntil(() => _backend.StartedRings > 0, timeout);
    }

    /// <summary>Waits until no ring is started (the guest stopped its rings or the front-end went away), at most <paramref name="timeout"/>.</summary>
    public bool WaitDisconnected(TimeSpan timeout)
    {
        return SpinWait.SpinUntil(() => _backend.StartedRings == 0, timeout);
    }

    /// <summary>Adds a breakpoint from the words after <c>break</c>.</summary>
    public VhostBreakpoint AddBreakpoint(IReadOnlyList<string> words)
    {
        lock (_sync)
        {
            VhostBreakpoint b = VhostBreakpoint.Parse(_nextBreakpoint, words);
            _nextBreakpoint++;
            _breakpoints.Add(b);
            return b;
        }
    }

    /// <summary>Deletes one breakpoint, or all with null; false when there is no such breakpoint.</summary>
    public bool DeleteBreakpoint(int? id)
    {
        lock (_sync)
        {
            if (id is null)
            {
                _breakpoints.Clear();
                return true;
            }
            return _breakpoints.RemoveAll(b => b.Id == id) > 0;
        }
    }

    /// <summary>The breakpoints.</summary>
    public IReadOnlyList<VhostBreakpoint> Breakpoints
    {
        get
        {
            lock (_sync)
            {
                return [.. _breakpoints];
            }
        }
    }

    /// <summary>The last <paramref name="count"/> requests, oldest first.</summary>
    public IReadOnlyList<RequestView> Requests(int count)
    {
        lock (_sync)
        {
            return _requests.Skip(Math.Max(0, _requests.Count - count)).Select(r => r.ToView()).ToList(); // a List: batch JSON has its contract
        }
    }

    /// <summary>The request the last stop is about, else the latest request; null before any.</summary>
    public RequestView? CurrentRequest()
    {
        lock (_sync)
        {
            return (_stopRequest ?? _requests.Last?.Value)?.ToView();
        }
    }

    /// <summary>The last <paramref name="count"/> events, oldest first; <paramref name="kind"/> filters by kind name.</summary>
    public IReadOnlyList<EventRow> Events(int count, string? kind = null)
    {
        lock (_sync)
        {
            IEnumerable<EventRow> all = kind is null ? _events : _events.Where(e => e.Kind == kind);
            List<EventRow> list = [.. all];
            return list.GetRange(Math.Max(0, list.Count - count), Math.Min(count, list.Count));
        }
    }

    /// <summary>Ring <paramref name="index"/>: indexes, addresses, waiting and in-flight requests.</summary>
    public VhostQueueView Queue(int index)
    {
        NegotiationState n = _backend.Inspect();
        if ((uint)index >= (uint)n.Rings.Count)
        {
            throw new CommandException($"queue {index} does not exist (the device has {n.Rings.Count})");
        }
        VringState r = n.Rings[index];
        int inFlight;
        long completed;
        lock (_sync)
        {
            inFlight = _inFlight.Keys.Count(k => k.Queue == index);
            completed = _completedPerQueue[index];
        }
        return new VhostQueueView
        {
            Index = index,
            Format = r.Layout is { } l ? l.Format.ToString().ToLowerInvariant() : "not started",
            Size = r.Size,
            Enabled = r.Enabled,
            Started = r.Started,
            DescAddress = r.Layout?.DescTable,
            AvailAddress = r.Layout?.DriverArea,
            UsedAddress = r.Layout?.DeviceArea,
            AvailIdx = r.AvailIdx,
            LastAvail = r.LastAvail,
            UsedIdx = r.UsedIdx,
            NextUsed = r.NextUsed,
            Waiting = r.AvailIdx is { } a && r.LastAvail is { } la ? (ushort)(a - la) : null,
            InFlight = inFlight,
            Completed = completed,
            WrapCounters = r.Wrap is { } w ? $"avail {(w.Avail ? 1 : 0)} used {(w.Used ? 1 : 0)}" : null,
            Error = r.Error,
        };
    }

    /// <summary>The vhost-user negotiation: features, protocol features, memory table, rings.</summary>
    public VhostNegotiationView Negotiation()
    {
        NegotiationState n = _backend.Inspect();
        return new VhostNegotiationView
        {
            Negotiated = n.FeaturesSet,
            OfferedFeatures = $"0x{n.OfferedFeatures:x16}",
            Features = $"0x{n.Features:x16}",
            FeatureNames = n.FeaturesSet ? Decode.Features(n.Features) : "not negotiated",
            ProtocolFeatures = $"0x{n.ProtocolFeatures:x}",
            ProtocolFeatureNames = ProtocolFeatureNames(n.ProtocolFeatures),
            Regions = [.. n.Regions.Select(r => new VhostRegionRow(r.GuestPhysAddr, r.Size, r.UserAddr, r.MmapOffset))],
            Rings = [.. n.Rings.Select(r => new VhostRingRow(r.Index, r.Size, r.Addresses?.Descriptor, r.Addresses?.Available, r.Addresses?.Used,
                r.Enabled, r.HasKick, r.Started, r.Base, r.LastAvail, r.UsedIdx ?? r.NextUsed))],
        };
    }

    /// <summary>Opens the gate for good and detaches: the device runs on undisturbed.</summary>
    public void Dispose()
    {
        _backend.Device.Gate = null;
        _subscription.Dispose();
        lock (_sync)
        {
            _state = VhostRunState.Running;
            Monitor.PulseAll(_sync);
        }
        _backend.WakeRings();
    }

    private static string ProtocolFeatureNames(ulong f)
    {
        (ulong Bit, string Name)[] table =
        [
            (VhostUser.Protocol.ProtocolFeatures.Mq, "MQ"), (VhostUser.Protocol.ProtocolFeatures.LogShmfd, "LOG_SHMFD"),
            (VhostUser.Protocol.ProtocolFeatures.ReplyAck, "REPLY_ACK"), (VhostUser.Protocol.ProtocolFeatures.Config, "CONFIG"),
            (VhostUser.Protocol.ProtocolFeatures.ResetDevice, "RESET_DEVICE"), (VhostUser.Protocol.ProtocolFeatures.ConfigureMemSlots, "CONFIGURE_MEM_SLOTS"),
        ];
        List<string> names = [.. table.Where(t => (f & t.Bit) != 0).Select(t => t.Name)];
        return names.Count == 0 ? "none" : string.Join(' ', names);
    }

    private VhostMoveResult Move() => new(StateName(_state), _reason, _stopBreakpoint, _completions, _stopRequest?.ToView());

    /// <summary>Lower-case name of a state, as command results print it.</summary>
    public static string StateName(VhostRunState s) => s switch
    {
        VhostRunState.Running => "running",
        VhostRunState.Stepping => "stepping",
        _ => "paused",
    };

    private void Stop(string reason, int breakpoint, VhostRequest? request)
    {
        _state = VhostRunState.Paused;
        _reason = reason;
        _stopBreakpoint = breakpoint;
        _stopRequest = request;
        Monitor.PulseAll(_sync);
    }

    private bool WaitLocked(Func<bool> done, TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (!done())
        {
            long left = deadline - Environment.TickCount64;
            if (left <= 0)
            {
                return false;
            }
            Monitor.Wait(_sync, (int)Math.Min(left, int.MaxValue));
        }
        return true;
    }

    private void OnEvent(VirtioEvent e)
    {
        lock (_sync)
        {
            var record = new EventRecord(_completions, e);
            _events.Enqueue(new EventRow(e.Sequence, _completions, record.Kind, record.Text));
            if (_events.Count > KeptEvents)
            {
                _events.Dequeue();
            }
            switch (e)
            {
                case ChainPoppedEvent c:
                    Popped(c);
                    break;
                case RequestParsedEvent p when _inFlight.TryGetValue((p.Queue, p.Id), out VhostRequest? r):
                    r.Type = p.Type;
                    r.Sector = p.Sector;
                    r.DataBytes = p.DataBytes;
                    r.Segments = p.Segments;
                    r.Rejection = p.Rejection;
                    r.Breakpoint = _breakpoints.FirstOrDefault(b => b.MatchesRequest(p))?.Id ?? 0;
                    break;
                case CompletionEvent c when _inFlight.Remove((c.Queue, c.Id), out VhostRequest? r):
                    Completed(c, r);
                    break;
                default:
                    break;
            }
        }
    }

    private void Popped(ChainPoppedEvent c)
    {
        var r = new VhostRequest(c.Queue, c.Id, ++_taken, c.Descriptors, c.Error);
        _inFlight[(c.Queue, c.Id)] = r;
        _requests.AddLast(r);
        if (_requests.Count > KeptRequests)
        {
            _requests.RemoveFirst();
        }
        if (_state == VhostRunState.Stepping && _stepped is null)
        {
            _stepped = r;
        }
    }

    private void Completed(CompletionEvent c, VhostRequest r)
    {
        r.Status = c.Status;
        r.UsedLength = c.UsedLength;
        r.CompletedAs = ++_completions;
        if ((uint)c.Queue < (uint)_completedPerQueue.Length)
        {
            _completedPerQueue[c.Queue]++;
        }
        if (_backend.Device.Memory is { } memory)
        {
            r.CaptureHex(memory);
        }
        if (r.Breakpoint == 0)
        {
            r.Breakpoint = _breakpoints.FirstOrDefault(b => b.MatchesCompletion(c))?.Id ?? 0;
        }
        if (_state != VhostRunState.Paused && r.Breakpoint != 0 && _breakpoints.FirstOrDefault(b => b.Id == r.Breakpoint) is { } hit)
        {
            Stop($"breakpoint {hit.Id} ({hit.Spec}) hit by queue {r.Queue} request {r.Id}", hit.Id, r);
        }
        else if (_state == VhostRunState.Stepping && ReferenceEquals(r, _stepped))
        {
            Stop($"stepped one request (queue {r.Queue} chain {r.Id})", 0, r);
        }
        else
        {
            Monitor.PulseAll(_sync);
        }
    }
}
