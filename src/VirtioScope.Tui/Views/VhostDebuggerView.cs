using System.Globalization;
using Terminal.Gui.App;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;
using VirtioScope.Debugger;
using VirtioScope.VhostDebug;

namespace VirtioScope.Tui.Views;

/// <summary>
/// The debugger's window over a live vhost-user-blk back-end: a status line, the vhost-user negotiation (in place of
/// the MMIO registers), one ring, the stopped-at request and the event log, all rendered through the
/// <see cref="VhostCommandInterpreter"/> and <see cref="VhostTextFormatter"/> so the text is batch mode's. Keys go
/// through <see cref="HandleKey"/>. Commands that wait for the guest (continue, step, wait-*) run on a thread of their
/// own; F6 interrupts them through <see cref="VhostDebugController.Pause"/>.
/// </summary>
public sealed class VhostDebuggerView : Window
{
    /// <summary>Timer period: at most 30 refreshes a second.</summary>
    public static readonly TimeSpan RefreshPeriod = TimeSpan.FromMilliseconds(34);

    /// <summary>While paused and idle, the panes are refreshed every this many ticks (about 10 a second): the guest may still connect.</summary>
    public const int PausedRefreshEvery = 3;

    /// <summary>While the device runs, every this many ticks (about 4 a second): each redraw takes CPU from the device.</summary>
    public const int RunningRefreshEvery = 8;

    /// <summary>Bound on F5's wait for a breakpoint; F6 ends it sooner.</summary>
    private const string ContinueCommand = "continue 86400";

    private static readonly string[] KeyHelp =
    [
        "F5 continue   F6 pause   F10/F11 step one request   F9 breakpoints   : command line   q quit   F1 this help",
        "",
    ];

    private readonly VhostDebugController _controller;
    private readonly VhostCommandInterpreter _interpreter;
    private readonly IApplication _app;
    private readonly object? _timer;
    private readonly LinesView _statusLine = new() { X = 0, Y = 0, Width = Dim.Fill(), Height = 1 };
    // Full width: a ring's negotiation line is about 140 columns. A quarter of the height holds two regions and several rings.
    private readonly FrameView _vhostFrame = new() { Title = "vhost-user", X = 0, Y = 1, Width = Dim.Fill(), Height = Dim.Percent(25) };
    private readonly FrameView _queueFrame = new() { Title = "Queue 0", X = 0, Width = Dim.Percent(45) };
    private readonly FrameView _requestFrame = new() { Title = "Request", Width = Dim.Fill() };
    private readonly FrameView _eventsFrame = new() { Title = "Events", X = 0, Width = Dim.Fill(), Height = 8 };
    private readonly CommandLine _commandLine;
    private Task<CommandResult>? _busy;
    private string _busyCommand = "";
    private int _ticks;
    private int _queue;
    private string? _eventKind;
    private string _message = "";
    private List<PaneLine>? _output;
    private string _outputTitle = "";

    /// <summary>Builds the window over <paramref name="controller"/>, running commands through <paramref name="interpreter"/>.</summary>
    public VhostDebuggerView(VhostDebugController controller, VhostCommandInterpreter interpreter, IApplication app)
    {
        ArgumentNullException.ThrowIfNull(controller);
        ArgumentNullException.ThrowIfNull(interpreter);
        ArgumentNullException.ThrowIfNull(app);
        _controller = controller;
        _interpreter = interpreter;
        _app = app;
        Title = "virtioscope debug --vhost-user-blk";
        BorderStyle = Terminal.Gui.Drawing.LineStyle.None;
        _queueFrame.Y = Pos.Bottom(_vhostFrame);
        _queueFrame.Height = Dim.Fill(Dim.Func(_ => _eventsFrame.Frame.Height + 2));
        _requestFrame.X = Pos.Right(_queueFrame);
        _requestFrame.Y = Pos.Bottom(_vhostFrame);
        _requestFrame.Height = Dim.Fill(Dim.Func(_ => _eventsFrame.Frame.Height + 2));
        _eventsFrame.Y = Pos.AnchorEnd(10);
        _commandLine = new CommandLine(RunCommand);
        _vhostFrame.Add(VhostPane);
        _queueFrame.Add(QueuePane);
        _requestFrame.Add(RequestPane);
        _eventsFrame.Add(EventsPane);
        var statusBar = new StatusBar(
        [
            new Shortcut(Key.F1, "Help", () => HandleKey(Key.F1)),
            new Shortcut(Key.F11, "Step", () => HandleKey(Key.F11)),
            new Shortcut(Key.F5, "Cont", () => HandleKey(Key.F5)),
            new Shortcut(Key.F6, "Pause", () => HandleKey(Key.F6)),
            new Shortcut(Key.F9, "Break", () => HandleKey(Key.F9)),
            new Shortcut((Key)':', "Command", () => HandleKey((Key)':')),
            new Shortcut(Key.Q, "Quit", () => HandleKey(Key.Q)),
        ]);
        Add(_statusLine, _vhostFrame, _queueFrame, _requestFrame, _eventsFrame, _commandLine.Prompt, _commandLine.Field, statusBar);
        _timer = _app.AddTimeout(RefreshPeriod, () =>
        {
            Tick();
            return true;
        });
        Refresh();
    }

    /// <summary>The vhost-user negotiation pane (features, memory regions, rings).</summary>
    public LinesView VhostPane { get; } = Pane();

    /// <summary>The ring pane.</summary>
    public LinesView QueuePane { get; } = Pane();

    /// <summary>The stopped-at or latest request: descriptor chain and decoded request.</summary>
    public LinesView RequestPane { get; } = Pane();

    /// <summary>The event log pane (also shows command output and help).</summary>
    public LinesView EventsPane { get; } = Pane();

    /// <summary>The one-line state shown above the panes.</summary>
    public string StatusText => _statusLine.Lines.Count > 0 ? _statusLine.Lines[0].Text : "";

    /// <summary>Whether a command that waits for the guest (continue, step, wait-*) is in progress.</summary>
    public bool IsBusy => _busy is { IsCompleted: false };

    /// <summary>Whether the user asked to quit.</summary>
    public bool QuitRequested { get; private set; }

    /// <summary>Collects a finished command and refreshes the panes, less often while the device runs. Called by the timer.</summary>
    public void Tick()
    {
        if (_busy is { IsCompleted: true } done)
        {
            _busy = null;
            ApplyResult(done.IsCompletedSuccessfully ? done.Result : null, done.Exception?.GetBaseException().Message);
            return;
        }
        bool idle = _busy is null && _controller.State == VhostRunState.Paused;
        if (_ticks++ % (idle ? PausedRefreshEvery : RunningRefreshEvery) == 0)
        {
            Refresh();
        }
    }

    /// <summary>Acts on a key; returns whether it was the debugger's.</summary>
    public bool HandleKey(Key key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_commandLine.IsOpen)
        {
            return _commandLine.HandleKey(key);
        }
        if (key == Key.F6) { Pause(); }
        else if (key == Key.Q) { Quit(); }
        else if (IsBusy && (key == Key.F5 || key == Key.F10 || key == Key.F11 || key == Key.F9 || key == (Key)':'))
        {
            _message = $"{_busyCommand} in progress: F6 pauses first";
            Refresh();
        }
        else if (key == Key.F11 || key == Key.F10) { RunCommand("step"); }
        else if (key == Key.F5) { RunCommand(ContinueCommand); }
        else if (key == Key.F1) { ShowOutput("Help", [.. KeyHelp.Concat(VhostCommandInterpreter.Help).Select(h => new PaneLine(h))]); }
        else if (key == Key.F9) { ShowBreakpoints(); _commandLine.Open("break "); }
        else if (key == (Key)':') { _commandLine.Open(""); }
        else { return false; }
        return true;
    }

    /// <summary>Runs a command-language line: waiting commands on their own thread, the rest at once.</summary>
    public void RunCommand(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        string[] words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        string verb = words.Length == 0 ? "" : words[0].ToLowerInvariant();
        if (verb is "quit" or "exit")
        {
            Quit();
            return;
        }
        if (verb is "continue" or "c" or "step" or "next" or "s" or "n" or "wait-connect" or "wait-disconnect")
        {
            if (IsBusy)
            {
                _message = $"{_busyCommand} in progress: F6 pauses first";
                Refresh();
                return;
            }
            _busyCommand = line.Trim();
            _output = null;
            _message = "";
            _ticks = 1;
            // A thread of its own: step and continue block until the guest makes a request or a breakpoint hits, and
            // a blocked pool thread would slow Terminal.Gui's loop.
            _busy = Task.Factory.StartNew(() => _interpreter.Execute(line), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            Refresh();
            return;
        }
        CommandResult r = _interpreter.Execute(line);
        if (verb == "events" && r.Ok)
        {
            _eventKind = words.Skip(1).FirstOrDefault(w => !char.IsAsciiDigit(w[0]))?.ToLowerInvariant();
        }
        ApplyResult(r, null);
    }

    /// <summary>Redraws every pane from the controller.</summary>
    public void Refresh()
    {
        CommandResult info = _interpreter.Execute("info");
        VhostInfo i = (VhostInfo)info.Data!;
        string busy = IsBusy ? $"  |  {_busyCommand}: F6 pauses" : "";
        string text = Inv($"{i.State}: {i.Reason}  |  {i.Taken} taken, {i.Completions} completed  |  {i.StartedRings} ring(s) started  |  socket {i.Socket}  |  image {i.Image}")
            + busy + (_message.Length > 0 ? "  |  " + _message : "");
        _statusLine.SetLines([new PaneLine(text, _message.StartsWith("error", StringComparison.Ordinal) || i.Reason.StartsWith("breakpoint", StringComparison.Ordinal))]);
        VhostPane.SetLines(Lines(_interpreter.Execute("vhost")));
        _queueFrame.Title = Inv($"Queue {_queue}");
        QueuePane.SetLines(Lines(_interpreter.Execute(Inv($"queue {_queue}"))));
        CommandResult request = _interpreter.Execute("request");
        RequestPane.SetLines(request.Ok ? Lines(request) : [new PaneLine(request.Error ?? "")]);
        if (_output is not null)
        {
            _eventsFrame.Title = _outputTitle;
            EventsPane.SetLines(_output);
        }
        else
        {
            _eventsFrame.Title = _eventKind is null ? "Events" : $"Events: {_eventKind}";
            List<PaneLine> lines = Lines(_interpreter.Execute(_eventKind is null ? "events 200" : $"events 200 {_eventKind}"));
            EventsPane.SetLines(lines, lines.Count - 1);
        }
        SetNeedsDraw();
    }

    /// <summary>Ends a waiting command (pausing the device) so that the session can close; bounded by <paramref name="timeout"/>.</summary>
    public bool EndWaiting(TimeSpan timeout)
    {
        if (_busy is not { } busy)
        {
            return true;
        }
        _controller.Pause();
        return busy.Wait(timeout);
    }

    private void Pause()
    {
        if (_controller.State == VhostRunState.Paused && !IsBusy)
        {
            _message = "already paused";
            Refresh();
            return;
        }
        // Safe from the UI thread: it wakes a step or continue waiting on another thread, which then finishes.
        ApplyResult(_interpreter.Execute("pause"), null);
    }

    private void Quit()
    {
        QuitRequested = true;
        EndWaiting(TimeSpan.FromSeconds(10));
        _app.RequestStop();
    }

    private void ApplyResult(CommandResult? r, string? failure)
    {
        _output = null;
        if (r is null)
        {
            _message = "error: " + failure;
            Refresh();
            return;
        }
        _message = r.Ok ? "" : "error: " + r.Error;
        switch (r.Data)
        {
            case VhostQueueView q:
                _queue = q.Index;
                break;
            case null or VhostMoveResult or RequestView or VhostNegotiationView or IReadOnlyList<EventRow>:
                break;
            default:
                ShowOutput(r.Command, Lines(r));
                return;
        }
        Refresh();
    }

    private void ShowBreakpoints()
    {
        List<PaneLine> lines = [new PaneLine("break " + VhostBreakpoint.Usage), .. Lines(_interpreter.Execute("break"))];
        ShowOutput("Breakpoints", lines);
    }

    private void ShowOutput(string title, List<PaneLine> lines)
    {
        _output = lines;
        _outputTitle = title;
        Refresh();
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing && _timer is not null)
        {
            _app.RemoveTimeout(_timer);
        }
        base.Dispose(disposing);
    }

    private static List<PaneLine> Lines(CommandResult r) =>
        [.. VhostTextFormatter.Format(r).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => new PaneLine(l))];

    private static LinesView Pane() => new() { X = 0, Y = 0, Width = Dim.Fill(), Height = Dim.Fill() };

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
