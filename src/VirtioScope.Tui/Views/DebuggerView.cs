using System.Globalization;
using Terminal.Gui.App;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;
using VirtioScope.Debugger;

namespace VirtioScope.Tui.Views;

/// <summary>
/// The debugger's main window: registers, queues, chain, backend and event panes over one <see cref="DebugSession"/>,
/// a command line, and a status bar with the key bindings. Keys go through <see cref="HandleKey"/>.
/// </summary>
public sealed class DebuggerView : Window
{
    /// <summary>Refresh period while running: at most 30 refreshes a second.</summary>
    public static readonly TimeSpan RefreshPeriod = TimeSpan.FromMilliseconds(34);

    /// <summary>While running, the view is refreshed on every this many ticks (about 4 times a second).</summary>
    public const int RunningRefreshEvery = 8;

    private int _runningTicks;

    private readonly DebugSession _session;
    private readonly CommandInterpreter _interpreter;
    private readonly IApplication _app;
    private readonly LinesView _statusLine = new() { X = 0, Y = 0, Width = Dim.Fill(), Height = 1 };
    private readonly FrameView _registersFrame = new() { Title = "Registers", X = 0, Y = 1, Width = Dim.Percent(50), Height = Dim.Percent(45) };
    private readonly FrameView _queueFrame = new() { Title = "Queue 0", Y = 1, Width = Dim.Fill(), Height = Dim.Percent(45) };
    private readonly FrameView _chainFrame = new() { Title = "Chain / request", X = 0, Width = Dim.Percent(50) };
    private readonly FrameView _backendFrame = new() { Title = "Backend", Width = Dim.Fill() };
    private readonly FrameView _eventsFrame = new() { Title = "Events", X = 0, Width = Dim.Fill(), Height = 8 };
    private readonly CommandLine _commandLine;
    private Task? _running;
    private int _queue;
    private string? _eventKind;
    private string _message = "";
    private List<PaneLine>? _output;
    private string _outputTitle = "";

    /// <summary>Builds the window over <paramref name="session"/>, drawing through <paramref name="app"/>.</summary>
    public DebuggerView(DebugSession session, IApplication app)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(app);
        _session = session;
        _app = app;
        _interpreter = new CommandInterpreter(session);
        Title = "virtioscope debug";
        BorderStyle = Terminal.Gui.Drawing.LineStyle.None;
        _queueFrame.X = Pos.Right(_registersFrame);
        _chainFrame.Y = Pos.Bottom(_registersFrame);
        _chainFrame.Height = Dim.Fill(Dim.Func(_ => _eventsFrame.Frame.Height + 2));
        _backendFrame.X = Pos.Right(_chainFrame);
        _backendFrame.Y = Pos.Bottom(_registersFrame);
        _backendFrame.Height = Dim.Fill(Dim.Func(_ => _eventsFrame.Frame.Height + 2));
        _eventsFrame.Y = Pos.AnchorEnd(10);
        _commandLine = new CommandLine(RunCommand);
        _registersFrame.Add(RegistersPane);
        _queueFrame.Add(QueuePane);
        _chainFrame.Add(ChainPane);
        _backendFrame.Add(BackendPane);
        _eventsFrame.Add(EventsPane);
        var statusBar = new StatusBar(
        [
            new Shortcut(Key.F1, "Help", () => HandleKey(Key.F1)),
            new Shortcut(Key.F11, "Step", () => HandleKey(Key.F11)),
            new Shortcut(Key.F10, "Next", () => HandleKey(Key.F10)),
            new Shortcut(Key.F5, "Cont", () => HandleKey(Key.F5)),
            new Shortcut(Key.F6, "Pause", () => HandleKey(Key.F6)),
            new Shortcut(Key.F9, "Break", () => HandleKey(Key.F9)),
            new Shortcut(Key.F7, "Back", () => HandleKey(Key.F7)),
            new Shortcut(Key.F8, "BackReq", () => HandleKey(Key.F8)),
            new Shortcut(Key.N, "Compose", () => HandleKey(Key.N)),
            new Shortcut(Key.Q, "Quit", () => HandleKey(Key.Q)),
        ]);
        Add(_statusLine, _registersFrame, _queueFrame, _chainFrame, _backendFrame, _eventsFrame, _commandLine.Prompt, _commandLine.Field, statusBar);
        _app.AddTimeout(RefreshPeriod, () =>
        {
            Tick();
            return true;
        });
        Refresh();
    }

    /// <summary>The registers pane.</summary>
    public LinesView RegistersPane { get; } = Pane();

    /// <summary>The queue pane.</summary>
    public LinesView QueuePane { get; } = Pane();

    /// <summary>The chain and request pane.</summary>
    public LinesView ChainPane { get; } = Pane();

    /// <summary>The backend pane.</summary>
    public LinesView BackendPane { get; } = Pane();

    /// <summary>The event log pane (also shows command output and help).</summary>
    public LinesView EventsPane { get; } = Pane();

    /// <summary>The one-line state shown above the panes.</summary>
    public string StatusText => _statusLine.Lines.Count > 0 ? _statusLine.Lines[0].Text : "";

    /// <summary>Whether a continue is in progress.</summary>
    public bool IsContinuing => _running is { IsCompleted: false };

    /// <summary>Refreshes the panes from a live snapshot while running, or completely once stopped. Called by the timer.</summary>
    public void Tick()
    {
        if (_running is null)
        {
            return;
        }
        if (_running.IsCompleted)
        {
            Exception? failure = _running.Exception?.GetBaseException();
            _running = null;
            _message = failure is null ? "" : failure.Message;
            Refresh();
            return;
        }
        // While the device runs, every redraw (Terminal.Gui lays out and writes the screen) takes CPU from it: a few
        // refreshes a second are enough to watch it go.
        if (_runningTicks++ % RunningRefreshEvery != 0)
        {
            return;
        }
        DeviceSnapshot s = _session.Snapshot();
        RegistersPane.SetLines(PaneText.Registers(s));
        QueuePane.SetLines(PaneText.Queue(s, _queue));
        SetStatus(Inv($"running  access {s.Position}  completions {s.Completions}  events {s.Events}   F6 pauses"), highlight: false);
    }

    /// <summary>Acts on a key; returns whether it was the debugger's.</summary>
    public bool HandleKey(Key key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_commandLine.IsOpen)
        {
            return _commandLine.HandleKey(key);
        }
        if (IsContinuing)
        {
            if (key == Key.F6)
            {
                _session.Pause();
                return true;
            }
            if (key == Key.Q)
            {
                _session.Pause();
                _running!.Wait(TimeSpan.FromSeconds(10));
                _app.RequestStop();
                return true;
            }
            return key == Key.F11 || key == Key.F10 || key == Key.F5 || key == Key.F7 || key == Key.F8 || key == Key.F9;
        }
        if (key == Key.F11) { RunCommand("step"); }
        else if (key == Key.F10) { RunCommand("next"); }
        else if (key == Key.F7) { RunCommand("back"); }
        else if (key == Key.F8) { RunCommand("back request"); }
        else if (key == Key.F5) { StartContinue(); }
        else if (key == Key.F6) { _message = "not running"; Refresh(); }
        else if (key == Key.F1) { ShowOutput("Help", CommandInterpreter.Help.Select(h => new PaneLine(h)).ToList()); }
        else if (key == Key.F9) { ShowBreakpoints(); _commandLine.Open("break "); }
        else if (key == Key.N) { _commandLine.Open("compose write 0 8 0xa5"); }
        else if (key == (Key)':') { _commandLine.Open(""); }
        else if (key == Key.Q) { _app.RequestStop(); }
        else { return false; }
        return true;
    }

    /// <summary>Runs a command-language line and shows its result.</summary>
    public void RunCommand(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        string[] words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length > 0 && words[0] is "continue" or "c" or "cont" && words.Length == 1)
        {
            StartContinue();
            return;
        }
        CommandResult r = _interpreter.Execute(line);
        if (r.Quit)
        {
            _app.RequestStop();
            return;
        }
        _output = null;
        _message = r.Ok ? "" : "error: " + r.Error;
        switch (r.Data)
        {
            case QueueSnapshot q:
                _queue = q.Index;
                break;
            case IReadOnlyList<EventRow>:
                _eventKind = words.Skip(1).FirstOrDefault(w => !char.IsAsciiDigit(w[0]))?.ToLowerInvariant();
                break;
            case null or MoveResult or RequestView or DeviceSnapshot or BackendView:
                break;
            default:
                ShowOutput(r.Command, VirtioScope.Debugger.TextFormatter.Format(r).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => new PaneLine(l)).ToList());
                return;
        }
        Refresh();
    }

    /// <summary>Redraws every pane from the paused session.</summary>
    public void Refresh()
    {
        DeviceSnapshot s = _session.Snapshot();
        RegistersPane.SetLines(PaneText.Registers(s));
        _queueFrame.Title = Inv($"Queue {_queue}");
        QueuePane.SetLines(PaneText.Queue(s, _queue));
        if (_session.State != MachineState.Running)
        {
            ChainPane.SetLines(PaneText.Chain(_session.Request()));
            BackendPane.SetLines(PaneText.Backend(_session.Backend()));
        }
        if (_output is not null)
        {
            _eventsFrame.Title = _outputTitle;
            EventsPane.SetLines(_output);
        }
        else
        {
            _eventsFrame.Title = _eventKind is null ? "Events" : $"Events: {_eventKind}";
            List<PaneLine> lines = PaneText.Events(_session.Events(200, _eventKind));
            EventsPane.SetLines(lines, lines.Count - 1);
        }
        string where = _session.InsideAccess ? $"in access {s.Position}" : $"before access {s.Position + 1}";
        SetStatus(Inv($"{_session.State.ToString().ToLowerInvariant()} {where}: {_session.StopReason}  |  status {s.Status}  |  {s.Completions} completed  |  {_session.SourceDescription}")
            + (_message.Length > 0 ? "  |  " + _message : ""), highlight: _message.StartsWith("error", StringComparison.Ordinal));
        SetNeedsDraw();
    }

    private void SetStatus(string text, bool highlight) => _statusLine.SetLines([new PaneLine(text, highlight)]);

    private void StartContinue()
    {
        if (_session.State != MachineState.Paused)
        {
            _message = "error: the session has ended; use back to go to an earlier point";
            Refresh();
            return;
        }
        _output = null;
        _runningTicks = 0;
        // A thread of its own: Continue blocks until the session stops, and a blocked pool thread slows Terminal.Gui's loop.
        _running = Task.Factory.StartNew(() => _session.Continue(), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        SetStatus("running   F6 pauses", highlight: false);
    }

    private void ShowBreakpoints()
    {
        var lines = _session.Breakpoints.Select(b => new PaneLine(Inv($"breakpoint {b.Id}: {b.Spec}"))).ToList();
        lines.Insert(0, new PaneLine(BreakpointUsage));
        ShowOutput("Breakpoints", lines);
    }

    private const string BreakpointUsage = "break mmio OFF [read|write] [=V] | status | type T | sector A-B | error | fault | notify Q; delete N|all";

    private void ShowOutput(string title, List<PaneLine> lines)
    {
        _output = lines;
        _outputTitle = title;
        Refresh();
    }

    private static LinesView Pane() => new() { X = 0, Y = 0, Width = Dim.Fill(), Height = Dim.Fill() };

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
