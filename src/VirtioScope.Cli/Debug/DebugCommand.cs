using System.CommandLine;
using Serilog.Core;
using VirtioScope.Cli.Images;
using VirtioScope.Cli.Run;
using VirtioScope.Debugger;
using VirtioScope.Guest.Workloads;
using VirtioScope.Images;
using VirtioScope.Tui;

namespace VirtioScope.Cli.Debug;

/// <summary>
/// <c>virtioscope debug</c>: the live device debugger. With <c>--batch</c> it runs commands from a file or stdin and
/// prints each result (exit 0 when every command worked, 1 when one failed, 2 on bad usage); otherwise the TUI.
/// </summary>
internal static class DebugCommand
{
    /// <summary>The image served when neither IMAGE nor --memory is given.</summary>
    public const string DemoImage = "sample-images/demo.qcow2";

    public static Command Create()
    {
        var image = new Argument<string?>("IMAGE") { Description = $"Disk image to serve (default: {DemoImage})", Arity = ArgumentArity.ZeroOrOne };
        var shared = new DeviceOptionSet();
        var rw = new Option<bool>("--rw") { Description = "Let the device's writes reach the image (by default they stay in an in-memory overlay); disables stepping back" };
        var batch = new Option<string?>("--batch") { Description = "Run the debugger commands in FILE (- for stdin) instead of the TUI" };
        var output = new Option<string>("--output") { Description = "Batch result format: text or json (one object per command)", DefaultValueFactory = _ => "text" };
        output.AcceptOnlyFromAmong("text", "json");
        var log = new Option<string?>("--log") { Description = "Write a compact JSON (CLEF) log of the device's events to this file" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log more" };

        var command = new Command("debug", "Step through the device's work: registers, queues, chains and events, in a TUI or in batch mode")
        {
            image, rw, batch, output, log, verbose,
        };
        shared.AddTo(command);
        command.SetAction(parse =>
        {
            using Logger logger = Logging.Create(parse.GetValue(verbose) ? 2 : 0, parse.GetValue(log));
            SessionOptions options;
            try
            {
                string? imagePath = parse.GetValue(image);
                if (imagePath is null && !shared.HasMemory(parse))
                {
                    imagePath = FindDemoImage()
                        ?? throw new ArgumentException($"no IMAGE or --memory given, and the demo image {DemoImage} was not found");
                }
                RunSettings settings = shared.Bind(parse, imagePath);
                settings.Validate();
                if (settings.Image is not null && !File.Exists(settings.Image))
                {
                    throw new ArgumentException($"{settings.Image}: no such file");
                }
                options = new SessionOptions
                {
                    ImagePath = settings.Image,
                    MemoryBytes = settings.MemoryBytes ?? SessionOptions.DefaultMemoryDisk,
                    WriteThroughToImage = parse.GetValue(rw),
                    ReadOnly = settings.ReadOnly,
                    Workload = settings.Workload,
                    Requests = settings.Requests,
                    QueueDepth = settings.QueueDepth,
                    BlockSize = settings.BlockSize,
                    RwMixPercent = settings.RwMixPercent,
                    FlushEvery = settings.FlushEvery,
                    Queues = settings.Queues,
                    Packed = settings.Packed,
                    EventIdx = settings.EventIdx,
                    Indirect = settings.Indirect,
                    Legacy = settings.Legacy,
                    Seed = settings.Seed,
                    Verify = settings.Verify,
                };
            }
            catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
            {
                Console.Error.WriteLine($"virtioscope: {e.Message}");
                return ExitCodes.Usage;
            }
            DebugSession session;
            try
            {
                // Every device event goes through Serilog only when a log file asks for it: formatting each one costs more than the device's own work.
                session = DebugSession.Open(options, log: parse.GetValue(log) is null ? null : logger);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ImageException or InvalidDataException or ArgumentException)
            {
                Console.Error.WriteLine($"virtioscope: {options.ImagePath ?? "memory disk"}: {e.Message}");
                return ExitCodes.Usage;
            }
            using (session)
            {
                string? batchFile = parse.GetValue(batch);
                if (batchFile is null)
                {
                    DebuggerApp.Run(session);
                    return ExitCodes.Success;
                }
                return RunBatch(session, batchFile, parse.GetValue(output) == "json");
            }
        });
        return command;
    }

    private static int RunBatch(DebugSession session, string file, bool json)
    {
        TextReader input;
        try
        {
            input = file == "-" ? Console.In : File.OpenText(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"virtioscope: {file}: {e.Message}");
            return ExitCodes.Usage;
        }
        using (input)
        {
            int failed = BatchRunner.Run(new CommandInterpreter(session), input, Console.Out, json);
            return failed == 0 ? ExitCodes.Success : ExitCodes.Failures;
        }
    }

    /// <summary>Looks for the demo image under the current directory and above the program's directory.</summary>
    private static string? FindDemoImage()
    {
        if (File.Exists(DemoImage))
        {
            return Path.GetFullPath(DemoImage);
        }
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, DemoImage);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
