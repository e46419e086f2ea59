using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using VirtioScope.Tracing.Analysis;
using VirtioScope.Tracing.Format;
using VirtioScope.Tracing.Import;
using VirtioScope.Tracing.Replay;

namespace VirtioScope.Cli.Trace;

/// <summary>
/// <c>virtioscope trace show|stats|diff|lint|import</c>. Exit codes: 0 success (diff: identical; lint: clean),
/// 1 diff found a divergence or lint found violations, 2 error.
/// </summary>
internal static class TraceCommand
{
    public static Command Create()
    {
        var command = new Command("trace", "Inspect, compare, check and import MMIO traces (.vstrace)");
        command.Subcommands.Add(Show());
        command.Subcommands.Add(Stats());
        command.Subcommands.Add(Diff());
        command.Subcommands.Add(Lint());
        command.Subcommands.Add(Import());
        return command;
    }

    private static Option<string> OutputOption()
    {
        var output = new Option<string>("--output") { Description = "text or json", DefaultValueFactory = _ => "text" };
        output.AcceptOnlyFromAmong("text", "json");
        return output;
    }

    private static Command Show()
    {
        var file = new Argument<string>("FILE") { Description = "Trace file" };
        var from = new Option<long>("--from") { Description = "First event number", DefaultValueFactory = _ => 0 };
        var count = new Option<long>("--count") { Description = "Events to show (default: all)", DefaultValueFactory = _ => long.MaxValue };
        var output = OutputOption();
        var cmd = new Command("show", "Print decoded events, one per line") { file, from, count, output };
        cmd.SetAction(p => TraceCli.Run(() =>
        {
            string path = p.GetValue(file)!;
            using TraceReader reader = TraceReader.Open(path);
            TraceCli.WarnIfCut(reader, path);
            long first = p.GetValue(from);
            if (first < 0 || (first >= reader.EventCount && reader.EventCount > 0))
            {
                throw new ArgumentException($"--from {first} is outside the trace's {reader.EventCount} events");
            }
            long n = p.GetValue(count);
            if (p.GetValue(output) == "json")
            {
                TraceCli.Json(w =>
                {
                    w.WriteStartArray();
                    foreach (TraceEvent e in reader.Events(first, n))
                    {
                        EventJson.Write(w, e);
                    }
                    w.WriteEndArray();
                });
                return ExitCodes.Success;
            }
            TextWriter stdout = Console.Out;
            foreach (TraceEvent e in reader.Events(first, n))
            {
                stdout.WriteLine(e.ToString());
            }
            return ExitCodes.Success;
        }));
        return cmd;
    }

    private static Command Stats()
    {
        var file = new Argument<string>("FILE") { Description = "Trace file" };
        var output = OutputOption();
        var cmd = new Command("stats", "Requests by type and status, bytes, queue depth over time, latency percentiles, hot sector ranges") { file, output };
        cmd.SetAction(p => TraceCli.Run(() =>
        {
            string path = p.GetValue(file)!;
            using TraceReader reader = TraceReader.Open(path);
            TraceCli.WarnIfCut(reader, path);
            TraceStatistics stats = TraceStatistics.Compute(reader);
            if (p.GetValue(output) == "json")
            {
                TraceCli.Json(stats.WriteJson);
            }
            else
            {
                Console.Out.Write(stats.ToText());
            }
            return ExitCodes.Success;
        }));
        return cmd;
    }

    private static Command Diff()
    {
        var a = new Argument<string>("A") { Description = "Expected trace" };
        var b = new Argument<string>("B") { Description = "Trace to compare" };
        var output = OutputOption();
        var cmd = new Command("diff", "Report the first event where two traces differ (exit 0 identical, 1 different, 2 error)") { a, b, output };
        cmd.SetAction(p => TraceCli.Run(() =>
        {
            using TraceReader ra = TraceReader.Open(p.GetValue(a)!);
            using TraceReader rb = TraceReader.Open(p.GetValue(b)!);
            TraceCli.WarnIfCut(ra, p.GetValue(a)!);
            TraceCli.WarnIfCut(rb, p.GetValue(b)!);
            Divergence? d = TraceDiff.Compare(ra, rb);
            if (p.GetValue(output) == "json")
            {
                TraceCli.Json(w =>
                {
                    w.WriteStartObject();
                    w.WriteBoolean("identical", d is null);
                    w.WriteNumber("eventsA", ra.EventCount);
                    w.WriteNumber("eventsB", rb.EventCount);
                    if (d is not null)
                    {
                        w.WritePropertyName("divergence");
                        d.WriteJson(w);
                    }
                    w.WriteEndObject();
                });
            }
            else
            {
                Console.Out.Write(d is null ? $"identical: {ra.EventCount} events\n" : d.ToText());
            }
            return d is null ? ExitCodes.Success : ExitCodes.Failures;
        }));
        return cmd;
    }

    private static Command Lint()
    {
        var file = new Argument<string>("FILE") { Description = "Trace file (a recording or an imported QEMU log)" };
        var output = OutputOption();
        var cmd = new Command("lint", "Check the driver's register accesses against the VirtIO rules (exit 0 clean, 1 violations, 2 error)") { file, output };
        cmd.SetAction(p => TraceCli.Run(() =>
        {
            string path = p.GetValue(file)!;
            using TraceReader reader = TraceReader.Open(path);
            TraceCli.WarnIfCut(reader, path);
            IReadOnlyList<LintViolation> violations = TraceLinter.Lint(reader);
            if (p.GetValue(output) == "json")
            {
                TraceCli.Json(w =>
                {
                    w.WriteStartArray();
                    foreach (LintViolation v in violations)
                    {
                        w.WriteStartObject();
                        w.WriteNumber("event", v.EventNumber);
                        w.WriteString("rule", v.Rule);
                        w.WriteString("message", v.Message);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                });
            }
            else
            {
                foreach (LintViolation v in violations)
                {
                    Console.Out.WriteLine(v.ToString());
                }
                Console.Out.WriteLine(violations.Count == 0
                    ? $"clean: {reader.EventCount} events, no violations"
                    : string.Create(CultureInfo.InvariantCulture, $"{violations.Count} violations in {reader.EventCount} events"));
            }
            return violations.Count == 0 ? ExitCodes.Success : ExitCodes.Failures;
        }));
        return cmd;
    }

    private static Command Import()
    {
        var log = new Argument<string>("LOG") { Description = "QEMU trace log (-trace 'virtio_mmio_*' -trace 'virtio_blk_*' -D LOG)" };
        var from = new Option<string>("--from") { Description = "Source format", Required = true };
        from.AcceptOnlyFromAmong("qemu-log");
        var outFile = new Option<string>("-o", "--output-file") { Description = "Trace to write", Required = true };
        var version = new Option<int?>("--mmio-version") { Description = "1 or 2 (detected from the registers written when omitted)" };
        var cmd = new Command("import", "Convert a QEMU virtio-mmio trace log into a register-level trace") { log, from, outFile, version };
        cmd.SetAction(p => TraceCli.Run(() =>
        {
            ImportResult r = QemuLogImporter.Import(p.GetValue(log)!, p.GetValue(outFile)!, p.GetValue(version));
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"imported {r.RegisterAccesses} register accesses ({r.Events} events, {r.Notes} notes, {r.IgnoredLines} lines ignored) as virtio-mmio version {r.MmioVersion}"));
            Console.Out.WriteLine("note: a QEMU log holds no guest memory or read values: the trace can be shown, stepped and linted, not replayed");
            return ExitCodes.Success;
        }));
        return cmd;
    }
}
