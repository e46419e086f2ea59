using System.CommandLine;
using Serilog.Core;
using VirtioScope.Cli.Images;
using VirtioScope.Cli.Run;
using VirtioScope.Debugger;
using VirtioScope.Debugger.Sources;
using VirtioScope.Tracing.Format;
using VirtioScope.Tracing.Replay;
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
        var trace = new Option<string?>("--trace") { Description = "Step through a recorded trace (.vstrace) instead of the live guest; IMAGE or --memory is the backend to replay against (default: a zeroed memory disk, the recording's copy of the original content for --full image recordings, or the recorded image)" };
        var record = new Option<string?>("--record") { Description = "Record the session to this trace file (.vstrace, as run --record); rewritten when the session steps back" };
        var pauseAt = new Option<string>("--pause-at")
        {
            Description = "Where the session starts paused: discovery (after the guest's bus discovery reads and its reset write) or first-access (before its first register access)",
            DefaultValueFactory = _ => "discovery",
        };
        pauseAt.AcceptOnlyFromAmong("discovery", "first-access");
        var full = new Option<bool>("--full") { Description = "With --record: keep the bytes the device writes to guest memory, not only their hashes" };

        var command = new Command("debug", "Step through the device's work: registers, queues, chains and events, in a TUI or in batch mode")
        {
            image, rw, batch, output, log, verbose, trace, record, full, pauseAt,
        };
        shared.AddTo(command);
        VhostDebugCommand vhost = VhostDebugCommand.AddTo(command);
        command.SetAction(parse =>
        {
            using Logger logger = Logging.Create(parse.GetValue(verbose) ? 2 : 0, parse.GetValue(log));
            if (vhost.Requested(parse))
            {
                return vhost.Run(parse, parse.GetValue(image), parse.GetValue(batch), parse.GetValue(output) == "json", logger);
            }
            SessionOptions options;
            TraceReader? reader = null;
            DebugSession session;
            try
            {
                string? tracePath = parse.GetValue(trace);
                if (tracePath is not null)
                {
                    reader = OpenTrace(tracePath);
                    options = TraceOptions(reader, parse.GetValue(image), shared.HasMemory(parse) ? shared.Bind(parse, null).MemoryBytes : null);
                }
                else
                {
                    options = LiveOptions(parse, shared, parse.GetValue(image));
                }
                options = options with { WriteThroughToImage = parse.GetValue(rw), RecordPath = parse.GetValue(record), RecordFullData = parse.GetValue(full),
                    PauseAt = parse.GetValue(pauseAt) == "first-access" ? PausePoint.FirstAccess : PausePoint.Discovery };
                if (options.RecordPath is not null && tracePath is not null && Path.GetFullPath(options.RecordPath) == Path.GetFullPath(tracePath))
                {
                    throw new ArgumentException("--record would overwrite the trace given with --trace");
                }
                // Every device event goes through Serilog only when a log file asks for it: formatting each one costs more than the device's own work.
                Serilog.ILogger? sessionLog = parse.GetValue(log) is null ? null : logger;
                TraceReader? r = reader;
                session = r is null ? DebugSession.Open(options, log: sessionLog)
                    : DebugSession.Open(options, () => new TraceGuestSource(r, Path.GetFileName(tracePath!)), sessionLog);
            }
            catch (Exception e) when (e is FormatException or ArgumentException or OverflowException or IOException or UnauthorizedAccessException
                or ImageException or InvalidDataException or InvalidOperationException)
            {
                reader?.Dispose();
                Console.Error.WriteLine($"virtioscope: {e.Message}");
                return ExitCodes.Usage;
            }
            using (reader)
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

    private static SessionOptions LiveOptions(ParseResult parse, DeviceOptionSet shared, string? imagePath)
    {
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
        return new SessionOptions
        {
            ImagePath = settings.Image,
            MemoryBytes = settings.MemoryBytes ?? SessionOptions.DefaultMemoryDisk,
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

    private static TraceReader OpenTrace(string path)
    {
        if (!File.Exists(path))
        {
            throw new ArgumentException($"{path}: no such file");
        }
        TraceReader reader = TraceReader.Open(path);
        if (reader.TruncationNote is { } note)
        {
            Console.Error.WriteLine($"virtioscope: {path}: {note}");
        }
        return reader;
    }

    /// <summary>
    /// The backend of a trace session: IMAGE, a memory disk of --memory bytes, or what the recording was made over (a
    /// zeroed memory disk, or the recorded image if it is still there); writes always stay in the session's overlay.
    /// </summary>
    private static SessionOptions TraceOptions(TraceReader reader, string? image, long? memoryBytes)
    {
        TraceHeader h = reader.Header;
        if (!h.Replayable)
        {
            throw new ArgumentException($"trace from {h.Source} is register-level: it holds no guest memory or backend data, so it cannot drive a device in the debugger (use trace show or trace lint)");
        }
        if (image is not null && memoryBytes is not null)
        {
            throw new ArgumentException("give either IMAGE or --memory, not both");
        }
        string? path = image;
        if (path is null && memoryBytes is null && h.Backend.Kind == "image" && RecordedContentBackend.Holds(h))
        {
            // A --full recording holds the original content of what it read: serve that (the image may have changed since).
            RecordedContentBackend content = RecordedContentBackend.From(reader);
            return TraceGuestSource.OptionsFor(h, null) with
            {
                BaseBackend = () => content,
                BaseDescription = $"the recording's copy of {h.Backend.Path ?? "the image"}'s original content",
            };
        }
        if (path is null && memoryBytes is null && h.Backend.Kind == "image")
        {
            path = h.Backend.Path is { } recorded && File.Exists(recorded) ? recorded
                : throw new ArgumentException($"the trace was recorded over image {h.Backend.Path ?? "(unknown)"}, which is not found: give IMAGE");
        }
        if (path is not null && !File.Exists(path))
        {
            throw new ArgumentException($"{path}: no such file");
        }
        long size = memoryBytes ?? h.Backend.VirtualSize;
        if (path is null && size != h.Backend.VirtualSize)
        {
            throw new ArgumentException($"--memory {size} differs from the {h.Backend.VirtualSize} bytes the trace was recorded over");
        }
        return TraceGuestSource.OptionsFor(h, path) with { MemoryBytes = size };
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
