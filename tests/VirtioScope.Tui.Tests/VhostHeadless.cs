using Terminal.Gui.App;
using Terminal.Gui.Drivers;
using Terminal.Gui.Input;
using Terminal.Gui.Testing;
using VirtioScope.Tui.Views;
using VirtioScope.VhostDebug;
using VirtioScope.VhostDebug.Tests;

namespace VirtioScope.Tui.Tests;

/// <summary>The vhost-user debugger window, headless, over a live server and test front-end with one started ring.</summary>
internal sealed class VhostHeadless : IDisposable
{
    private readonly TextWriter _oldOut;

    public VhostHeadless(int width = 160, int height = 50)
    {
        Headless.ConsoleGate.Enter();
        _oldOut = Console.Out;
        Console.SetOut(new StringWriter());
        Rig = new DebugRig();
        Interpreter = new VhostCommandInterpreter(Rig.Controller, Rig.Server.SocketPath, "memory disk");
        App = Application.Create().Init(DriverRegistry.Names.ANSI);
        App.Driver!.SetScreenSize(width, height);
        View = new VhostDebuggerView(Rig.Controller, Interpreter, App);
        VhostDebuggerApp.Attach(App, View);
        App.Begin(View);
        Draw();
    }

    public DebugRig Rig { get; }

    public VhostDebugController Controller => Rig.Controller;

    public VhostCommandInterpreter Interpreter { get; }

    public IApplication App { get; }

    public VhostDebuggerView View { get; }

    public string Screen => App.Driver!.ToString()!;

    public void Draw() => App.LayoutAndDraw(true);

    public void Press(Key key)
    {
        App.InjectKey(key);
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

    /// <summary>Runs the timer's work (the headless loop has no timer) until <paramref name="done"/> holds, bounded.</summary>
    public bool TickUntil(Func<bool> done)
    {
        bool ok = SpinWait.SpinUntil(() =>
        {
            View.Tick();
            return done();
        }, DebugRig.Bound);
        View.Refresh();
        Draw();
        return ok;
    }

    public static string Text(LinesView pane) => string.Join('\n', pane.Lines.Select(l => l.Text));

    public void Dispose()
    {
        View.EndWaiting(DebugRig.Bound);
        View.Dispose();
        App.Dispose();
        Rig.Dispose();
        Console.SetOut(_oldOut);
        Headless.ConsoleGate.Exit();
    }
}
