using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace VirtioScope.Cli;

/// <summary>Serilog set-up shared by the verbs: warnings to stderr by default, -v for more, --log FILE as CLEF.</summary>
internal static class Logging
{
    /// <summary>Creates the logger; <paramref name="verbosity"/> counts -v flags.</summary>
    public static Logger Create(int verbosity, string? logFile)
    {
        LogEventLevel console = verbosity switch
        {
            0 => LogEventLevel.Warning,
            1 => LogEventLevel.Information,
            2 => LogEventLevel.Debug,
            _ => LogEventLevel.Verbose,
        };
        LoggerConfiguration config = new LoggerConfiguration()
            .MinimumLevel.Verbose()
            .WriteTo.Console(restrictedToMinimumLevel: console, standardErrorFromLevel: LogEventLevel.Verbose,
                outputTemplate: "virtioscope: {Level:u3} {Message:lj}{NewLine}{Exception}");
        if (logFile is not null)
        {
            config = config.WriteTo.File(new CompactJsonFormatter(), logFile, restrictedToMinimumLevel: LogEventLevel.Debug);
        }
        return config.CreateLogger();
    }
}
