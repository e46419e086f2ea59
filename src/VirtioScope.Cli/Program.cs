using VirtioScope.Cli.Debug;
using VirtioScope.Cli.Images;
using VirtioScope.Cli.Mount;
using VirtioScope.Cli.Run;
using VirtioScope.Cli.Serve;
using VirtioScope.Cli.Trace;

namespace VirtioScope.Cli;

/// <summary>Entry point of the <c>virtioscope</c> command.</summary>
public static class Program
{
    /// <summary>Runs one verb and returns its exit code.</summary>
    public static int Main(string[] args) => CommandLine.Invoke(
        args,
        RunCommand.Create(),
        ServeCommand.Create(),
        DebugCommand.Create(),
        InfoCommand.Create(),
        CreateCommand.Create(),
        ConvertCommand.Create(),
        CheckCommand.Create(),
        MapCommand.Create(),
        CompareCommand.Create(),
        ResizeCommand.Create(),
        SnapshotCommand.Create(),
        ReplayCommand.Create(),
        TraceCommand.Create(),
        MountCommand.Create(),
        UnmountCommand.Create());
}
