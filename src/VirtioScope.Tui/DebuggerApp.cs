using Terminal.Gui.App;
using VirtioScope.Debugger;
using VirtioScope.Tui.Views;

namespace VirtioScope.Tui;

/// <summary>Runs the Terminal.Gui front end over a debug session until the user quits.</summary>
public static class DebuggerApp
{
    /// <summary>Takes over the terminal, runs the debugger, and restores the terminal on exit.</summary>
    public static void Run(DebugSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        using IApplication app = Application.Create().Init();
        using var view = new DebuggerView(session, app);
        Attach(app, view);
        app.Run(view);
    }

    /// <summary>Routes every key to the debugger first (a focused view would otherwise eat letters like q).</summary>
    public static void Attach(IApplication app, DebuggerView view)
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
