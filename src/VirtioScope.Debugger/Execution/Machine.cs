using Serilog;
using VirtioScope.Block;
using VirtioScope.Debugger.Backend;
using VirtioScope.Debugger.Breakpoints;
using VirtioScope.Debugger.Sources;
using VirtioScope.Images;
using VirtioScope.Memory;
using VirtioScope.Virtio;
using VirtioScope.Virtio.Events;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Debugger.Execution;

/// <summary>
/// One execution of a session: fresh guest memory, backend (with its overlay), device and transport, and the source
/// running on its own thread behind the MMIO gate. Stepping back throws a machine away and builds a new one.
/// </summary>
internal sealed partial class Machine : IDisposable
{
    /// <summary>Events kept for the event log.</summary>
    public const int EventCapacity = 4096;

    private readonly object _lock = new();
    private readonly Thread _thread;
    private readonly IGuestActionSource _source;
    private readonly Func<long, int, List<ComposedRequest>> _takeComposed;
    private readonly ILogger? _log;
    private readonly (long Position, VirtioEvent Event)[] _events = new (long, VirtioEvent)[EventCapacity];
    private readonly RequestRecord?[][] _requests;
    private readonly List<long> _completionPositions = [];
    private long _eventCount;
    private readonly uint?[] _lastWritten = new uint?[MmioRegisters.Config / 4];
    private readonly Recording? _recording;
    private Action? _interrupt;
    private int _depth;
    private int _composedTaken;

    // Set by the controller while the guest is parked; read by the guest thread.
    private long _limit;
    private long _writeLimit = long.MaxValue;
    private long _writes;
    private long _completionTarget = long.MaxValue;
    private long _eventLimit = long.MaxValue;
    private Breakpoint[] _breakpoints = [];
    private bool _armed;
    private bool _skipMmioOnce;
    private volatile bool _pauseRequested;
    private volatile bool _abort;
    private volatile bool _snapshotWanted;
    private int _hitId;
    private DeviceSnapshot? _liveSnapshot;

    public Machine(SessionOptions options, IGuestActionSource source, Func<long, int, List<ComposedRequest>> takeComposed, ILogger? log)
    {
        Options = options;
        _source = source;
        _takeComposed = takeComposed;
        _log = log;
        // Chain ids are below the queue size (at most 32768), so the latest request per id fits a flat table.
        _requests = new RequestRecord?[options.Queues][];
        for (int q = 0; q < _requests.Length; q++)
        {
            _requests[q] = new RequestRecord?[ushort.MaxValue + 1];
        }
        (Backend, Image, Overlay) = OpenBackend(options);
        try
        {
            DeviceSetup? setup = source.Setup;
            BlockDeviceOptions deviceOptions = setup?.Device ?? new BlockDeviceOptions { NumQueues = options.Queues };
            Memory = setup is null ? GuestMemory.Create(GuestMemory.DefaultBase, MemorySize(options))
                : new GuestMemory(setup.Memory.Select(r => GuestRegion.Allocate(r.Base, r.Size)));
            _recording = Recording.Start(options, setup, Backend, Image);
            Device = new BlockDevice((IBlockBackend?)_recording?.Backend ?? Backend, deviceOptions);
            Transport = new MmioTransport(Device, Memory.CreateView(),
                setup?.Transport ?? new MmioTransportOptions { Version = options.Legacy ? MmioVersion.Legacy : MmioVersion.Modern });
            // The recorder subscribes first, so what it records is complete whenever the machine parks at an event.
            IMmioDevice window = _recording?.Attach(Transport, Device, deviceOptions, Memory, () => _interrupt?.Invoke()) ?? Transport;
            if (_recording is null)
            {
                Transport.InterruptRaised = () => _interrupt?.Invoke();
            }
            Transport.Events.Subscribe(OnEvent);
            var gate = new MmioGate(window, this);
            Context = new GuestActionContext(gate, Memory.CreateView(), options, h => _interrupt = h, TakeComposed);
        }
        catch
        {
            _recording?.Dispose();
            Memory?.Dispose();
            Backend.Dispose();
            throw;
        }
        State = MachineState.Running;
        StopReason = "starting";
        _thread = new Thread(GuestMain) { IsBackground = true, Name = "virtioscope-guest" };
        _thread.Start();
        WaitWhileRunning();
    }

    public SessionOptions Options { get; }

    public GuestMemory Memory { get; }

    public IBlockBackend Backend { get; }

    public IDiskImage? Image { get; }

    public OverlayBackend? Overlay { get; }

    public BlockDevice Device { get; }

    public MmioTransport Transport { get; }

    public GuestActionContext Context { get; }

    /// <summary>Register accesses admitted so far.</summary>
    public long Position { get; private set; }

    /// <summary>Requests completed so far.</summary>
    public long Completions { get; private set; }

    public MachineState State { get; private set; }

    public string StopReason { get; private set; }

    /// <summary>Breakpoint that caused the last stop, or 0.</summary>
    public int StoppedAtBreakpoint { get; private set; }

    /// <summary>Event counts right after each completion event, in order (the stop points of <c>next</c>).</summary>
    public IReadOnlyList<long> CompletionPositions => _completionPositions;

    /// <summary>Whether the guest is parked inside a register access (at an event), rather than before one.</summary>
    public bool MidAccess { get; private set; }

    public long EventCount => Volatile.Read(ref _eventCount);

    /// <summary>
    /// The last <paramref name="count"/> events, oldest first. Only while the guest is parked or ended: the guest
    /// thread is the only writer, and parking hands its writes over through the monitor.
    /// </summary>
    public List<EventRecord> RecentEvents(int count)
    {
        long total = _eventCount;
        long first = Math.Max(0, Math.Max(total - count, total - EventCapacity));
        var list = new List<EventRecord>((int)(total - first));
        for (long i = first; i < total; i++)
        {
            (long position, VirtioEvent e) = _events[i % EventCapacity];
            list.Add(new EventRecord(position, e));
        }
        return list;
    }

    public RequestRecord? LastRequest { get; private set; }

    /// <summary>The value last written to a register below the config space, or null if never written (write-only registers cannot be read back).</summary>
    public uint? LastWritten(int offset) => offset is >= 0 and < MmioRegisters.Config ? _lastWritten[offset / 4] : null;

    public RequestRecord? FindRequest(int queue, ushort id) => (uint)queue < (uint)_requests.Length ? _requests[queue][id] : null;

    /// <summary>
    /// Lets the guest run until it has admitted <paramref name="limit"/> accesses (stopping before the next), completed
    /// <paramref name="completionTarget"/> requests or published <paramref name="eventLimit"/> events (stopping right
    /// at that event, inside its access), hit a breakpoint (when <paramref name="breakpoints"/> is given) or was
    /// paused; returns when it stops.
    /// </summary>
    public void Run(long limit, long completionTarget, long eventLimit, Breakpoint[]? breakpoints) =>
        Run(limit, completionTarget, eventLimit, breakpoints, writeLimit: long.MaxValue);

    /// <summary>As <see cref="Run(long, long, long, Breakpoint[])"/>, also stopping before the next access once <paramref name="writeLimit"/> register writes were admitted.</summary>
    public void Run(long limit, long completionTarget, long eventLimit, Breakpoint[]? breakpoints, long writeLimit)
    {
        lock (_lock)
        {
            if (State != MachineState.Paused)
            {
                return;
            }
            _limit = limit;
            _completionTarget = completionTarget;
            _eventLimit = eventLimit;
            _writeLimit = writeLimit;
            _armed = breakpoints is not null;
            _breakpoints = breakpoints ?? [];
            _skipMmioOnce = true;
            _pauseRequested = false;
            _hitId = 0;
            State = MachineState.Running;
            Monitor.PulseAll(_lock);
        }
        WaitWhileRunning();
    }

    /// <summary>Asks a running guest to stop before its next access.</summary>
    public void RequestPause() => _pauseRequested = true;

    /// <summary>While running: the latest snapshot the guest thread took on request, and a request for a fresh one.</summary>
    public DeviceSnapshot? TakeLiveSnapshot()
    {
        DeviceSnapshot? s = Volatile.Read(ref _liveSnapshot);
        _snapshotWanted = true;
        return s;
    }

    public void Dispose()
    {
        _abort = true;
        lock (_lock)
        {
            Monitor.PulseAll(_lock);
        }
        _thread.Join();
        // After the guest thread ended at an access boundary: the recording ends with complete accesses.
        _recording?.Dispose();
        Memory.Dispose();
        Backend.Dispose();
    }

    /// <summary>Composed requests this execution's guest has taken (a prefix of the session's log).</summary>
    public int ComposedTaken => Volatile.Read(ref _composedTaken);

    private List<ComposedRequest> TakeComposed()
    {
        List<ComposedRequest> due = _takeComposed(Position, _composedTaken);
        Volatile.Write(ref _composedTaken, _composedTaken + due.Count);
        return due;
    }

    /// <summary>Register accesses in progress on the guest thread (more than one when the interrupt handler reads during a kick).</summary>
    internal int Depth
    {
        get => _depth;
        set => _depth = value;
    }

    private static ulong MemorySize(SessionOptions options)
    {
        long buffers = (long)options.Queues * options.QueueDepth * (Math.Max(options.BlockSize, 64 * 1024) + 4096);
        return (ulong)Math.Max(64L << 20, (buffers + (32L << 20) + 0xfffff) & ~0xfffffL);
    }

    /// <summary>Called by the gate on the guest thread before every register access.</summary>
    internal void BeforeAccess(int offset, bool isWrite, uint value)
    {
        if (_snapshotWanted)
        {
            _snapshotWanted = false;
            Volatile.Write(ref _liveSnapshot, SnapshotBuilder.Capture(this, null));
        }
        while (StopBefore(offset, isWrite, value) is { } reason)
        {
            Park(reason);
        }
        _skipMmioOnce = false;
        Position++;
        if (isWrite)
        {
            _writes++;
        }
    }

    private string? StopBefore(int offset, bool isWrite, uint value)
    {
        if (_abort)
        {
            // Nested in another access (the interrupt handler's reads during a kick): let the outer access finish.
            return _depth > 0 ? null : throw new SessionAbortedException();
        }
        if (Position >= _limit)
        {
            return Position == 0 ? "paused before the first register access" : "step done";
        }
        if (_writes >= _writeLimit)
        {
            return "paused after bus discovery and the driver's first write";
        }
        if (_pauseRequested)
        {
            return "paused";
        }
        if (_armed && !_skipMmioOnce)
        {
            foreach (Breakpoint b in _breakpoints)
            {
                if (b.MatchesBefore(offset, isWrite, value))
                {
                    _hitId = b.Id;
                    return $"breakpoint {b.Id}: {b.Spec}";
                }
            }
        }
        return null;
    }

    private void Park(string reason)
    {
        lock (_lock)
        {
            State = MachineState.Paused;
            StopReason = reason;
            StoppedAtBreakpoint = _hitId;
            _pauseRequested = false;
            Monitor.PulseAll(_lock);
            while (State == MachineState.Paused && !_abort)
            {
                Monitor.Wait(_lock);
            }
        }
        if (_abort && _depth == 0 && !MidAccess)
        {
            throw new SessionAbortedException();
        }
    }

    private void WaitWhileRunning()
    {
        lock (_lock)
        {
            while (State == MachineState.Running)
            {
                Monitor.Wait(_lock);
            }
        }
    }

    private void GuestMain()
    {
        string reason;
        MachineState end;
        try
        {
            _source.Run(Context);
            reason = "the guest finished its workload";
            end = MachineState.Finished;
        }
        catch (SessionAbortedException)
        {
            return;
        }
        catch (Exception e) when (e is Guest.GuestDriverException or ArgumentException or InvalidOperationException or IOException)
        {
            reason = $"the guest stopped: {e.Message}";
            end = MachineState.Failed;
            _log?.Error("debug session: {Reason}", reason);
        }
        lock (_lock)
        {
            State = end;
            StopReason = reason;
            StoppedAtBreakpoint = 0;
            Monitor.PulseAll(_lock);
        }
    }

    private void OnEvent(VirtioEvent e)
    {
        _events[_eventCount % EventCapacity] = (Position, e);
        Volatile.Write(ref _eventCount, _eventCount + 1);
        Track(e);
        if (_log is not null && _log.IsEnabled(Serilog.Events.LogEventLevel.Debug))
        {
            var record = new EventRecord(Position, e);
            _log.Debug("event {Sequence} at access {Position}: {Kind} {Text}", e.Sequence, Position, record.Kind, record.Text);
        }
        if (_abort)
        {
            // Being torn down: the next register access ends the guest.
            return;
        }
        if (StopAt(e) is { } reason)
        {
            // Park inside the access, right after the event: the device is between two steps of its work.
            MidAccess = true;
            try
            {
                Park(reason);
            }
            finally
            {
                MidAccess = false;
            }
        }
    }

    private string? StopAt(VirtioEvent e)
    {
        if (_eventCount >= _eventLimit)
        {
            return "re-executed to here";
        }
        if (e is CompletionEvent && Completions >= _completionTarget)
        {
            return "request completed";
        }
        if (_armed)
        {
            foreach (Breakpoint b in _breakpoints)
            {
                if (b.MatchesEvent(e))
                {
                    _hitId = b.Id;
                    return $"breakpoint {b.Id}: {b.Spec} ({EventText.Describe(e)})";
                }
            }
        }
        return null;
    }

    private void Track(VirtioEvent e)
    {
        switch (e)
        {
            case MmioAccessEvent { IsWrite: true, Offset: >= 0 and < MmioRegisters.Config } w:
                _lastWritten[w.Offset / 4] = w.Value;
                break;
            case ChainPoppedEvent c:
                var r = new RequestRecord(c.Queue, c.Id, Position, c.Descriptors, c.Error);
                if ((uint)c.Queue < (uint)_requests.Length)
                {
                    _requests[c.Queue][c.Id] = r;
                }
                LastRequest = r;
                break;
            case RequestParsedEvent p when FindRequest(p.Queue, p.Id) is { } rp:
                rp.Type = p.Type;
                rp.Sector = p.Sector;
                rp.DataBytes = p.DataBytes;
                rp.Segments = p.Segments;
                rp.Rejection = p.Rejection;
                break;
            case CompletionEvent done:
                Completions++;
                _completionPositions.Add(_eventCount);
                if (FindRequest(done.Queue, done.Id) is { } rc)
                {
                    rc.Status = done.Status;
                    rc.UsedLength = done.UsedLength;
                    rc.CompletedAt = Position;
                }
                break;
        }
    }

    private static (IBlockBackend Backend, IDiskImage? Image, OverlayBackend? Overlay) OpenBackend(SessionOptions o)
    {
        if (o.BaseBackend is { } content)
        {
            var protectedContent = new OverlayBackend(content(), o.ReadOnly);
            return (protectedContent, null, protectedContent);
        }
        if (o.ImagePath is null)
        {
            return (new MemoryBackend(o.MemoryBytes, o.ReadOnly), null, null);
        }
        IDiskImage image = DiskImage.Open(o.ImagePath, new ImageOpenOptions { ReadOnly = o.ReadOnly || !o.WriteThroughToImage });
        var imageBackend = new ImageBlockBackend(image);
        if (o.WriteThroughToImage)
        {
            return (imageBackend, image, null);
        }
        var overlay = new OverlayBackend(imageBackend, o.ReadOnly);
        return (overlay, image, overlay);
    }
}
