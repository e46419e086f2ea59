using VirtioScope.Debugger;

namespace VirtioScope.Debugger.Tests;

/// <summary>Small, fast sessions for tests.</summary>
internal static class Sessions
{
    public static SessionOptions Small(string workload = "randread") => new()
    {
        MemoryBytes = 1 << 20,
        Workload = workload,
        Requests = 2000,
        QueueDepth = 4,
        Seed = 7,
        // These tests count accesses from the guest's very first one; StartPointTests covers the default start.
        PauseAt = PausePoint.FirstAccess,
    };

    public static DebugSession Open(SessionOptions? options = null) => DebugSession.Open(options ?? Small());

    /// <summary>Runs commands and returns the last result, failing the test on any error.</summary>
    public static CommandResult Run(CommandInterpreter c, params string[] lines)
    {
        CommandResult last = null!;
        foreach (string line in lines)
        {
            last = c.Execute(line);
            Assert.True(last.Ok, $"{line}: {last.Error}");
        }
        return last;
    }
}
