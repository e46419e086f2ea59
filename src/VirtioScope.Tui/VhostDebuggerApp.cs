using Terminal.Gui.App;
using VirtioScope.Tui.Views;
using VirtioScope.VhostDebug;

namespace VirtioScope.Tui;

/// <summary>Runs the Terminal.Gui front end over a live vhost-user-blk debug session until the user quits.</summary>
public static class VhostDebuggerApp
{
    /// <summary>Takes over the terminal, runs the debugger, and restores the terminal on exit; the caller then stops the server.</summary>
    public static void Run(VhostDebugController controller, VhostCommandInterpreter interpreter)
    {
        ArgumentNullException.ThrowIfNull(controller);
        ArgumentNullException.ThrowIfNull(interpreter);
        using IApplication app = Application.Create().Init();
        using var view = new VhostDebuggerView(controller, interpreter, app);
        Attach(app, view);
        app.Run(view);
        // Terminal.Gui's own quit key ends the loop too: a step or continue still waiting must not outlive it.
        view.EndWaiting(TimeSpan.FromSeconds(10));
    }

    /// <summary>Routes every key to the debugger first (a focused view would otherwise eat letters like q).</summary>
    public static void Attach(IApplication app, VhostDebuggerView view)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(view);
        app.Keyboard.KeyDown += (_, key) =>
        {
            if (view.HandleKey(key))
            {
                key.Handled = true;
            }
        };
    }
}
