using Serilog;
using VirtioScope.Block;
using VirtioScope.Debugger.Breakpoints;
using VirtioScope.Debugger.Execution;
using VirtioScope.Debugger.Sources;
using VirtioScope.Images;

namespace VirtioScope.Debugger;

/// <summary>
/// The debugger engine: one device driven by a source of guest actions, paused before every register access on
/// request, with breakpoints, stepping forward by access or by request, and stepping back by re-executing the same
/// source deterministically from the start. Control methods are called from one controller thread; <see cref="Pause"/>
/// may be called from any thread while another call runs.
/// </summary>
public sealed class DebugSession : IDisposable
{
    private readonly Func<IGuestActionSource> _sourceFactory;
    private readonly ILogger? _log;
    private readonly object _composeLock = new();
    private readonly List<(long Position, ComposedRequest Request)> _composedLog = [];
    private readonly List<ComposedRequest> _pending = [];
    private readonly List<Breakpoint> _breakpoints = [];
    private Machine _machine;
    private IGuestActionSource _source = null!;
    private DeviceSnapshot? _previous;
    private DeviceSnapshot? _current;
    private RequestRecord? _selected;
    private bool _replaying;
    private int _pendingCount;
    private int _loggedCount;
    private int _nextBreakpointId = 1;

    private DebugSession(SessionOptions options, Func<IGuestActionSource> sourceFactory, ILogger? log)
    {
        Options = options;
        _sourceFactory = sourceFactory;
        _log = log;
        _machine = NewMachine();
        if (options.PauseAt == PausePoint.Discovery)
        {
            // The guest's first write is its reset, after the bus discovery reads: stop right after it.
            _machine.Run(long.MaxValue, long.MaxValue, long.MaxValue, breakpoints: null, writeLimit: 1);
        }
        Refresh();
    }

    /// <summary>
    /// Opens a session paused where <see cref="SessionOptions.PauseAt"/> says: by default after the guest's bus
    /// discovery and its first write (the reset), else before the first register access. Without a source factory the
    /// live guest drives the device with the options' workload.
    /// </summary>
    /// <exception cref="IOException">The image cannot be opened.</exception>
    /// <exception cref="ImageException">The image is not a usable disk image.</exception>
    public static DebugSession Open(SessionOptions options, Func<IGuestActionSource>? sourceFactory = null, ILogger? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new DebugSession(options, sourceFactory ?? (() => new LiveGuestSource()), log);
    }

    /// <summary>The options the session was opened with.</summary>
    public SessionOptions Options { get; }

    /// <summary>Register accesses executed so far (the session is paused before access <c>Position + 1</c>).</summary>
    public long Position => _machine.Position;

    /// <summary>Requests completed so far.</summary>
    public long Completions => _machine.Completions;

    /// <summary>Paused, running, finished or failed.</summary>
    public MachineState State => _machine.State;

    /// <summary>Whether the session is paused inside a register access (at an event) rather than before one.</summary>
    public bool InsideAccess => _machine.MidAccess;

    /// <summary>Events published so far.</summary>
    public long EventCount => _machine.EventCount;

    /// <summary>Why the session last stopped.</summary>
    public string StopReason => _machine.StopReason;

    /// <summary>The breakpoint the session last stopped at, or 0.</summary>
    public int StoppedAtBreakpoint => _machine.StoppedAtBreakpoint;

    /// <summary>Breakpoints in order of creation.</summary>
    public IReadOnlyList<Breakpoint> Breakpoints => _breakpoints;

    /// <summary>Whether stepping back is possible (not when writes reach the image).</summary>
    public bool CanStepBack => !(Options.WriteThroughToImage && Options.ImagePath is not null);

    /// <summary>Requests composed but not yet submitted.</summary>
    public int PendingComposed
    {
        get
        {
            lock (_composeLock)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>Executes <paramref name="count"/> register accesses (fewer if a breakpoint hits first).</summary>
    public void Step(long count = 1)
    {
        RequireCount(count);
        RequirePaused();
        // Paused inside an access, the first step finishes that access.
        Forward(_machine.Position + count - (_machine.MidAccess ? 1 : 0), long.MaxValue);
    }

    /// <summary>Runs until <paramref name="count"/> more requests have completed (or a breakpoint hits).</summary>
    public void Next(long count = 1)
    {
        RequireCount(count);
        RequirePaused();
        Forward(long.MaxValue, _machine.Completions + count);
    }

    /// <summary>Runs at full speed until a breakpoint hits <paramref name="count"/> times, <see cref="Pause"/> is called, or the source ends.</summary>
    public void Continue(long count = 1)
    {
        RequireCount(count);
        RequirePaused();
        for (long i = 0; i < count && _machine.State == MachineState.Paused; i++)
        {
            Forward(long.MaxValue, long.MaxValue);
            if (_machine.StoppedAtBreakpoint == 0)
            {
                break;
            }
        }
    }

    /// <summary>Stops a running session before its next register access; safe from any thread.</summary>
    public void Pause() => _machine.RequestPause();

    /// <summary>Goes back <paramref name="count"/> register accesses by re-executing from the start (inside an access, back 1 goes to just before it).</summary>
    public void Back(long count = 1)
    {
        RequireCount(count);
        GoTo(Math.Max(0, _machine.Position - count), long.MaxValue);
    }

    /// <summary>Goes back <paramref name="count"/> requests: to the state right after the completion before the current one (or the start).</summary>
    public void BackRequest(long count = 1)
    {
        RequireCount(count);
        IReadOnlyList<long> done = _machine.CompletionPositions;
        long now = _machine.EventCount;
        int index = done.Count - 1;
        while (index >= 0 && done[index] >= now)
        {
            index--;
        }
        // index is the last completion strictly before now: back one request lands right after it.
        long target = index - (count - 1);
        if (target < 0)
        {
            GoTo(0, long.MaxValue);
        }
        else
        {
            GoTo(long.MaxValue, done[(int)target]);
        }
    }

    /// <summary>
    /// Re-executes from the start, with no breakpoints, until <paramref name="position"/> accesses were executed or
    /// <paramref name="events"/> events were published, whichever comes first.
    /// </summary>
    public void GoTo(long position, long events)
    {
        if (!CanStepBack)
        {
            throw new CommandException("cannot step back with --rw: the device's writes already reached the image, so re-execution would differ");
        }
        if (_machine.State == MachineState.Running)
        {
            throw new CommandException("pause the session first");
        }
        if (position < 0 || events < 0)
        {
            throw new CommandException("a position cannot be negative");
        }
        Machine fresh;
        _replaying = true;
        try
        {
            _machine.Dispose();
            fresh = NewMachine();
            _machine = fresh;
            if (position > 0 && events > 0)
            {
                fresh.Run(position, long.MaxValue, events, breakpoints: null);
            }
        }
        finally
        {
            _replaying = false;
        }
        // A new timeline: nothing counts as changed by the jump itself.
        _previous = null;
        _current = SnapshotBuilder.Capture(_machine, previous: null);
        _selected = null;
    }

    /// <summary>Adds a breakpoint from the words after <c>break</c>.</summary>
    public Breakpoint AddBreakpoint(IReadOnlyList<string> words)
    {
        Breakpoint b = BreakpointParser.Parse(_nextBreakpointId, words);
        _nextBreakpointId++;
        _breakpoints.Add(b);
        return b;
    }

    /// <summary>Deletes breakpoint <paramref name="id"/>.</summary>
    public void DeleteBreakpoint(int id)
    {
        if (_breakpoints.RemoveAll(b => b.Id == id) == 0)
        {
            throw new CommandException($"no breakpoint {id}");
        }
    }

    /// <summary>Deletes every breakpoint.</summary>
    public void DeleteAllBreakpoints() => _breakpoints.Clear();

    /// <summary>Queues a request for the guest to submit next, before any more of the workload's own requests.</summary>
    public void Compose(ComposedRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_source is TraceGuestSource)
        {
            throw new CommandException("a recording drives this session: only the live guest submits composed requests");
        }
        ulong capacity = (ulong)_machine.Backend.Size / 512;
        bool hasData = request.Type is BlkRequestType.In or BlkRequestType.Out or BlkRequestType.Discard or BlkRequestType.WriteZeroes;
        if (hasData && (request.Count == 0 || request.Sector + request.Count > capacity))
        {
            throw new CommandException($"sectors {request.Sector}+{request.Count} are outside the disk ({capacity} sectors)");
        }
        if (request.Type is BlkRequestType.In or BlkRequestType.Out && request.Count > ComposedRequest.MaxDataSectors)
        {
            throw new CommandException($"a composed read or write carries at most {ComposedRequest.MaxDataSectors} sectors");
        }
        if (request.Queue >= Options.Queues)
        {
            throw new CommandException($"queue {request.Queue} does not exist ({Options.Queues} queues)");
        }
        if (request.Type == BlkRequestType.Out && Options.ReadOnly)
        {
            throw new CommandException("the device is read-only");
        }
        lock (_composeLock)
        {
            // What this execution's guest has not taken yet belongs to a timeline left by stepping back.
            _composedLog.RemoveRange(_machine.ComposedTaken, _composedLog.Count - _machine.ComposedTaken);
            _loggedCount = _composedLog.Count;
            _pending.Add(request);
            _pendingCount = _pending.Count;
        }
    }

    /// <summary>The device state now; <see cref="DeviceSnapshot.Changed"/> names what the last stop changed.</summary>
    public DeviceSnapshot Snapshot()
    {
        if (_machine.State == MachineState.Running)
        {
            // The guest thread takes a fresh one at its next access; until then the last one stands.
            return _machine.TakeLiveSnapshot() ?? _current!;
        }
        return _current ?? Refresh();
    }

    /// <summary>The selected request (the last one the device popped, unless <see cref="SelectRequest"/> chose another).</summary>
    public RequestView? Request()
    {
        RequirePausedOrEnded();
        RequestRecord? r = _selected ?? _machine.LastRequest;
        return r is null ? null : ViewBuilder.Request(_machine, r);
    }

    /// <summary>Selects the request with chain head <paramref name="id"/> on <paramref name="queue"/>.</summary>
    public RequestView SelectRequest(int queue, int id)
    {
        RequirePausedOrEnded();
        RequestRecord r = _machine.FindRequest(queue, (ushort)id)
            ?? throw new CommandException($"no request with chain id {id} on queue {queue} seen recently");
        _selected = r;
        return ViewBuilder.Request(_machine, r);
    }

    /// <summary>The backend and where the selected request's sectors live.</summary>
    public BackendView Backend()
    {
        RequirePausedOrEnded();
        return ViewBuilder.Backend(_machine, _selected ?? _machine.LastRequest);
    }

    /// <summary>The last <paramref name="count"/> events, optionally of one kind, oldest first (not while running).</summary>
    public IReadOnlyList<EventRecord> Events(int count, string? kind = null)
    {
        RequirePausedOrEnded();
        if (kind is not null && !EventRecord.Kinds.Contains(kind))
        {
            throw new CommandException($"unknown event kind '{kind}' (one of: {string.Join(", ", EventRecord.Kinds)})");
        }
        List<EventRecord> all = _machine.RecentEvents(Machine.EventCapacity);
        IEnumerable<EventRecord> chosen = kind is null ? all : all.Where(e => e.Kind == kind);
        return chosen.TakeLast(count).ToList();
    }

    /// <summary>A byte-exact fingerprint of the state (guest memory, registers, queue state, overlay): equal states give equal fingerprints.</summary>
    public string StateFingerprint()
    {
        RequirePausedOrEnded();
        return StateHasher.Hash(_machine);
    }

    /// <summary>Description of the source.</summary>
    public string SourceDescription => _source.Description;

    /// <inheritdoc />
    public void Dispose() => _machine.Dispose();

    private DeviceSnapshot Refresh()
    {
        _previous = _current;
        _current = SnapshotBuilder.Capture(_machine, _previous);
        return _current;
    }

    private void Forward(long limit, long completionTarget)
    {
        _machine.Run(limit, completionTarget, long.MaxValue, [.. _breakpoints]);
        _selected = null;
        Refresh();
    }

    private Machine NewMachine()
    {
        IGuestActionSource source = _sourceFactory();
        _source = source;
        return new Machine(Options, source, TakeComposed, _log);
    }

    /// <summary>
    /// The composed requests a machine's guest submits now, at access <paramref name="position"/>, having already
    /// been handed the first <paramref name="taken"/> of the log: on re-execution, the logged ones at the positions
    /// where they were first taken; live, the pending ones, which then join the log.
    /// </summary>
    private List<ComposedRequest> TakeComposed(long position, int taken)
    {
        // Asked before every batch the guest issues: without anything composed this must cost next to nothing.
        if (Volatile.Read(ref _pendingCount) == 0 && Volatile.Read(ref _loggedCount) <= taken)
        {
            return [];
        }
        lock (_composeLock)
        {
            var due = new List<ComposedRequest>();
            for (int i = taken; i < _composedLog.Count && _composedLog[i].Position <= position; i++)
            {
                due.Add(_composedLog[i].Request);
            }
            if (!_replaying && _pending.Count > 0 && taken + due.Count == _composedLog.Count)
            {
                foreach (ComposedRequest r in _pending)
                {
                    _composedLog.Add((position, r));
                    due.Add(r);
                }
                _pending.Clear();
                Volatile.Write(ref _pendingCount, 0);
                Volatile.Write(ref _loggedCount, _composedLog.Count);
            }
            return due;
        }
    }

    private void RequirePaused()
    {
        switch (_machine.State)
        {
            case MachineState.Finished or MachineState.Failed:
                throw new CommandException($"the session has ended ({_machine.StopReason}); use back to go to an earlier point");
            case MachineState.Running:
                throw new CommandException("the session is running; pause it first");
        }
    }

    private void RequirePausedOrEnded()
    {
        if (_machine.State == MachineState.Running)
        {
            throw new CommandException("the session is running; pause it first");
        }
    }

    private static void RequireCount(long count)
    {
        if (count < 1)
        {
            throw new CommandException($"count {count} must be at least 1");
        }
    }
}
