using System.Diagnostics;
using System.Text.RegularExpressions;

namespace VirtioScope.Cli.Tests;

/// <summary>End to end: the debugger's TUI in a real terminal (tmux), driven by send-keys and read with capture-pane.</summary>
public sealed partial class DebugTmuxTests : IDisposable
{
    private readonly string _socket = $"vscope-test-{Environment.ProcessId}-{Guid.NewGuid():N}";
    private readonly string _exitFile = Path.Combine(Path.GetTempPath(), $"vscope-tmux-exit-{Guid.NewGuid():N}");

    public void Dispose()
    {
        Tmux("kill-server");
        File.Delete(_exitFile);
    }

    [Fact]
    public void Start_paused_step_into_acknowledge_and_driver_continue_pause_and_quit()
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "virtioscope.dll");
        string shell = $"dotnet '{dll}' debug --memory 1M --queue-depth 4 --requests 100000000; echo EXIT=$? > '{_exitFile}'; sleep 60";
        Assert.Equal(0, Tmux("new-session", "-d", "-s", "dbg", "-x", "120", "-y", "40", shell).Code);
        // The default start is after bus discovery (MagicValue, Version, DeviceID) and the driver's reset write.
        At(5, "0 (reset)");

        // F11 three times: the status read back (still 0), then ACKNOWLEDGE, then DRIVER. A key sent before the TUI
        // reads its input is lost, so give it a moment after its first frame.
        Thread.Sleep(500);
        Keys("F11", 1);
        At(6, "0 (reset)");
        Keys("F11", 1);
        At(7, "ACKNOWLEDGE");
        Keys("F11", 1);
        At(8, "ACKNOWLEDGE|DRIVER");

        Keys("F5", 1);
        WaitFor(s => s.Contains("running", StringComparison.Ordinal), "running");
        Thread.Sleep(500);
        Keys("F6", 1);
        string paused = WaitFor(s => s.StartsWith("paused", StringComparison.Ordinal) && AvailIdx().IsMatch(s), "paused with the queue live");
        Assert.True(int.Parse(AvailIdx().Match(paused).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 0);

        Keys("q", 1);
        var clock = Stopwatch.StartNew();
        while (!File.Exists(_exitFile) && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            Thread.Sleep(100);
        }
        Assert.Equal("EXIT=0", File.ReadAllText(_exitFile).Trim());
        // The terminal is restored: the alternate screen is off and the shell's screen shows no debugger panes.
        Assert.Equal("0", Tmux("display-message", "-p", "-t", "dbg", "#{alternate_on}").Out.Trim());
        Assert.DoesNotContain("Registers", Capture());
    }

    [GeneratedRegex(@"│Status\s+0x[0-9a-f]+\s+([A-Z_|]+|0 \(reset\))")]
    private static partial Regex StatusRow();

    [GeneratedRegex(@"avail idx (\d+)")]
    private static partial Regex AvailIdx();

    /// <summary>Waits until the screen says the session is paused before access <paramref name="access"/> with the Status register showing <paramref name="status"/>.</summary>
    private void At(int access, string status) =>
        WaitFor(s => s.Contains($"paused before access {access}:", StringComparison.Ordinal)
            && StatusRow().Match(s) is { Success: true } m && m.Groups[1].Value == status, $"access {access} with Status {status}");

    private void Keys(string key, int times)
    {
        for (int i = 0; i < times; i++)
        {
            Assert.Equal(0, Tmux("send-keys", "-t", "dbg", key).Code);
            Thread.Sleep(150);
        }
    }

    private string Capture() => Tmux("capture-pane", "-p", "-t", "dbg").Out;

    private string WaitFor(Func<string, bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        string screen = "";
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            screen = Capture();
            if (condition(screen))
            {
                return screen;
            }
            Thread.Sleep(200);
        }
        Assert.Fail($"timed out waiting for {what}; screen:\n{screen}");
        return screen;
    }

    private (int Code, string Out, string Err) Tmux(params string[] args) => Tools.Run("tmux", ["-L", _socket, .. args]);
}
