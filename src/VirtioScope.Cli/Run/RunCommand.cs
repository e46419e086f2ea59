using System.CommandLine;
using Serilog.Core;

namespace VirtioScope.Cli.Run;

/// <summary><c>virtioscope run</c>: a spec-following guest drives the virtio-blk device over an image or memory.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var image = new Argument<string?>("IMAGE") { Description = "Disk image to serve; the format (qcow2, raw, ...) is detected by its magic", Arity = ArgumentArity.ZeroOrOne };
        var shared = new DeviceOptionSet();
        var output = new Option<string>("--output") { Description = "Summary format: text or json", DefaultValueFactory = _ => "text" };
        output.AcceptOnlyFromAmong("text", "json");
        var log = new Option<string?>("--log") { Description = "Write a compact JSON (CLEF) log to this file" };
        var record = new Option<string?>("--record") { Description = "Record a replayable trace (.vstrace) of the run to this file" };
        var full = new Option<bool>("--full") { Description = "With --record: keep the bytes the device writes to guest memory, not only their hashes" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log more (device faults and progress)" };

        var command = new Command("run", "Drive the virtio-blk device with a spec-following guest and report what happened")
        {
            image, output, log, record, full, verbose,
        };
        shared.AddTo(command);
        command.SetAction(parse =>
        {
            using Logger logger = Logging.Create(parse.GetValue(verbose) ? 2 : 0, parse.GetValue(log));
            RunSettings settings;
            try
            {
                settings = shared.Bind(parse, parse.GetValue(image)) with
                {
                    Json = parse.GetValue(output) == "json",
                    Record = parse.GetValue(record),
                    RecordFull = parse.GetValue(full),
                };
                settings.Validate();
            }
            catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
            {
                Console.Error.WriteLine($"virtioscope: {e.Message}");
                return ExitCodes.Usage;
            }
            return RunSession.Execute(settings, logger);
        });
        return command;
    }
}
