using System.CommandLine;
using System.Globalization;
using VirtioScope.Block;
using VirtioScope.Cli.Run;
using VirtioScope.Tracing.Format;
using VirtioScope.Tracing.Replay;

namespace VirtioScope.Cli.Trace;

/// <summary>
/// <c>virtioscope replay FILE [IMAGE | --memory SIZE] [--verify] [--until N] [--output text|json]</c>: re-runs a
/// recording against a fresh device. Exit codes: 0 identical (or replayed, without --verify), 1 diverged, 2 error.
/// </summary>
internal static class ReplayCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "Trace recorded with run --record" };
        var image = new Argument<string?>("IMAGE") { Description = "Image to replay against (opened read-only; writes go to a copy in memory). Default: the original content when the trace holds it (--full), else the recorded image", Arity = ArgumentArity.ZeroOrOne };
        var memory = new Option<string?>("--memory") { Description = "Replay against a zeroed in-memory disk of this size" };
        var verify = new Option<bool>("--verify") { Description = "Compare everything the device produces with the recording; report the first divergence" };
        var until = new Option<long?>("--until") { Description = "Stop after event N" };
        var output = new Option<string>("--output") { Description = "text or json", DefaultValueFactory = _ => "text" };
        output.AcceptOnlyFromAmong("text", "json");
        var cmd = new Command("replay", "Replay a recorded trace against a fresh device (exit 0 identical, 1 diverged, 2 error)")
        {
            file, image, memory, verify, until, output,
        };
        cmd.SetAction(p => TraceCli.Run(() =>
        {
            string path = p.GetValue(file)!;
            using TraceReader reader = TraceReader.Open(path);
            TraceCli.WarnIfCut(reader, path);
            if (p.GetValue(image) is not null && p.GetValue(memory) is not null)
            {
                throw new ArgumentException("give either IMAGE or --memory, not both");
            }
            using IBlockBackend backend = OpenBackend(reader, p.GetValue(image), p.GetValue(memory));
            ReplayResult r = TraceReplayer.Replay(reader, backend, new ReplayOptions { Verify = p.GetValue(verify), Until = p.GetValue(until) });
            Report(r, reader, p.GetValue(verify), p.GetValue(output) == "json");
            return r.Divergence is null ? ExitCodes.Success : ExitCodes.Failures;
        }));
        return cmd;
    }

    /// <summary>
    /// IMAGE or --memory when given; else a zeroed memory disk for a memory recording, a protected copy of the
    /// original content for a <c>--full</c> image recording (the trace holds it), else the recorded image if it is
    /// still there (opened read-only, writes kept in memory).
    /// </summary>
    private static IBlockBackend OpenBackend(TraceReader reader, string? image, string? memory)
    {
        TraceHeader header = reader.Header;
        if (memory is not null)
        {
            return new MemoryBackend(Images.CliSupport.ParseSize(memory, "--memory"), header.Backend.ReadOnly);
        }
        if (image is null && header.Backend.Kind == "memory")
        {
            // A memory disk starts zeroed, so the trace holds its original content.
            return new MemoryBackend(header.Backend.VirtualSize, header.Backend.ReadOnly);
        }
        if (image is null && header.Backend.Kind == "image" && RecordedContentBackend.Holds(header))
        {
            return new ProtectedBackend(RecordedContentBackend.From(reader), header.Backend.ReadOnly);
        }
        string? path = image ?? (header.Backend.Path is { } recorded && File.Exists(recorded) ? recorded : null);
        if (path is null)
        {
            throw new ArgumentException($"the trace was recorded over image {header.Backend.Path ?? "(unknown)"}, which is not in the trace and not found: give IMAGE");
        }
        if (!File.Exists(path))
        {
            throw new IOException($"{path}: no such file");
        }
        return new ProtectedBackend(BackendFactory.Open(path, readOnly: true), header.Backend.ReadOnly);
    }

    private static void Report(ReplayResult r, TraceReader reader, bool verify, bool json)
    {
        double rate = r.Events / Math.Max(r.Elapsed.TotalSeconds, 1e-9);
        if (json)
        {
            TraceCli.Json(w =>
            {
                w.WriteStartObject();
                w.WriteBoolean("verified", verify);
                w.WriteBoolean("identical", verify && r.Divergence is null);
                w.WriteNumber("events", r.Events);
                w.WriteNumber("traceEvents", reader.EventCount);
                w.WriteNumber("accesses", r.Accesses);
                w.WriteNumber("matched", r.Matched);
                w.WriteNumber("seconds", r.Elapsed.TotalSeconds);
                w.WriteNumber("eventsPerSecond", Math.Round(rate));
                if (r.Divergence is { } d)
                {
                    w.WritePropertyName("divergence");
                    d.WriteJson(w);
                }
                w.WriteEndObject();
            });
            return;
        }
        if (r.Divergence is { } div)
        {
            Console.Out.Write(div.ToText());
            return;
        }
        string what = verify ? "identical" : "replayed (not verified)";
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{what}: {r.Events} of {reader.EventCount} events, {r.Accesses} register accesses, {r.Elapsed.TotalSeconds:F3} s ({rate:F0} events/s)"));
    }
}
