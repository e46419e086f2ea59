using Terminal.Gui.App;
using Terminal.Gui.Drivers;
using Terminal.Gui.Input;
using Terminal.Gui.Testing;
using VirtioScope.Debugger;
using VirtioScope.Tui;
using VirtioScope.Tui.Views;

namespace VirtioScope.Tui.Tests;

/// <summary>The debugger window on Terminal.Gui's headless ANSI driver: draw into a buffer, read it back as text.</summary>
internal sealed class Headless : IDisposable
{
    /// <summary>Console.Out is process-wide: one headless window (of either debugger) at a time.</summary>
    internal static readonly Lock ConsoleGate = new();
    private readonly TextWriter _oldOut;

    public Headless(SessionOptions? options = null, int width = 160, int height = 50)
        : this(() => DebugSession.Open(options ?? Small()), width, height)
    {
    }

    public Headless(Func<DebugSession> open, int width = 160, int height = 50)
    {
        ConsoleGate.Enter();
        _oldOut = Console.Out;
        Console.SetOut(new StringWriter());
        Session = open();
        App = Application.Create().Init(DriverRegistry.Names.ANSI);
        App.Driver!.SetScreenSize(width, height);
        View = new DebuggerView(Session, App);
        DebuggerApp.Attach(App, View);
        App.Begin(View);
        Draw();
    }

    public static SessionOptions Small() => new() { MemoryBytes = 1 << 20, Workload = "randread", Requests = 5000, QueueDepth = 4, Seed = 3 };

    public DebugSession Session { get; }

    public IApplication App { get; }

    public DebuggerView View { get; }

    public string Screen => App.Driver!.ToString()!;

    public void Draw() => App.LayoutAndDraw(true);

    public void Press(Key key, int times = 1)
    {
        for (int i = 0; i < times; i++)
        {
            App.InjectKey(key);
        }
        Draw();
    }

    public void Type(string text)
    {
        foreach (char c in text)
        {
            App.InjectKey((Key)c);
        }
        Draw();
    }

    public string PaneText(LinesView pane) => string.Join('\n', pane.Lines.Select(l => l.Text));

    public void Dispose()
    {
        View.Dispose();
        App.Dispose();
        Session.Dispose();
        Console.SetOut(_oldOut);
        ConsoleGate.Exit();
    }
}
