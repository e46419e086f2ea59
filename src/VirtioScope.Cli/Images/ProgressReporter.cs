using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace VirtioScope.Cli.Images;

/// <summary>Progress for long verbs: a Spectre.Console bar on a terminal, qemu-img style percentages otherwise, or JSON lines.</summary>
internal sealed class ProgressReporter
{
    private readonly string _mode;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastReport = -1;

    /// <param name="mode">"none", "auto" (-p) or "json".</param>
    public ProgressReporter(string mode) => _mode = mode;

    /// <summary>Runs <paramref name="work"/>, passing it a (done, total) callback wired to the chosen output.</summary>
    public void Run(long total, Action<Action<long, long>> work)
    {
        switch (_mode)
        {
            case "json":
                work(Json);
                Json(total, total, force: true);
                break;
            case "auto" when !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive:
                AnsiConsole.Progress()
                    .Columns(new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
                    .Start(ctx =>
                    {
                        ProgressTask task = ctx.AddTask("convert", maxValue: Math.Max(1, total));
                        work((done, _) => task.Value = done);
                        task.Value = task.MaxValue;
                    });
                break;
            case "auto":
                work(Plain);
                Console.Out.WriteLine("    (100.00/100%)");
                break;
            default:
                work((_, _) => { });
                break;
        }
    }

    private void Json(long done, long total) => Json(done, total, force: false);

    private void Json(long done, long total, bool force)
    {
        long ms = _clock.ElapsedMilliseconds;
        if (!force && ms - _lastReport < 200)
        {
            return;
        }
        _lastReport = ms;
        double rate = ms > 0 ? done * 1000.0 / ms : 0;
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"bytes-done\": {done}, \"bytes-total\": {total}, \"rate\": {rate:F0}}}"));
    }

    private void Plain(long done, long total)
    {
        long ms = _clock.ElapsedMilliseconds;
        if (ms - _lastReport < 500)
        {
            return;
        }
        _lastReport = ms;
        double pct = total == 0 ? 100 : 100.0 * done / total;
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    ({pct:F2}/100%)"));
    }
}
