using VirtioScope.Cli.Run;

namespace VirtioScope.Cli;

/// <summary>Entry point of the <c>virtioscope</c> command.</summary>
public static class Program
{
    /// <summary>Runs one verb and returns its exit code.</summary>
    public static int Main(string[] args) => CommandLine.Invoke(args, RunCommand.Create());
}
