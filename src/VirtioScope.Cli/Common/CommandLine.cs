using System.CommandLine;

namespace VirtioScope.Cli;

/// <summary>Builds the root command and runs it with VirtioScope's exit-code conventions.</summary>
internal static class CommandLine
{
    /// <summary>Parses and invokes; usage errors are one line each on stderr and exit code 2.</summary>
    public static int Invoke(string[] args, params Command[] commands)
    {
        var root = new RootCommand("VirtioScope: a VirtIO block device, its debugger and qemu-img-compatible disk image tools");
        foreach (Command c in commands)
        {
            root.Subcommands.Add(c);
        }
        ParseResult result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            foreach (System.CommandLine.Parsing.ParseError e in result.Errors)
            {
                Console.Error.WriteLine($"virtioscope: {e.Message}");
            }
            return ExitCodes.Usage;
        }
        return result.Invoke();
    }
}

/// <summary>Exit codes of <c>virtioscope run</c> and the other device verbs (the image verbs follow qemu-img's).</summary>
internal static class ExitCodes
{
    /// <summary>Everything worked.</summary>
    public const int Success = 0;

    /// <summary>Verification failed, or requests failed outside the hostile workload.</summary>
    public const int Failures = 1;

    /// <summary>Bad usage, or the image or device could not be opened or set up.</summary>
    public const int Usage = 2;
}
