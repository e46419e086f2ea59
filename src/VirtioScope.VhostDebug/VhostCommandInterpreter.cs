using System.Text.Json;
using System.Globalization;
using VirtioScope.Debugger;

namespace VirtioScope.VhostDebug;

/// <summary>Session summary for <c>info</c> on a vhost-user device.</summary>
/// <param name="Socket">Socket the back-end listens on.</param>
/// <param name="Image">What the device serves.</param>
/// <param name="State">paused, running or stepping.</param>
/// <param name="Reason">Why it last stopped.</param>
/// <param name="Taken">Requests taken from the rings while attached.</param>
/// <param name="Completions">Requests completed while attached.</param>
/// <param name="StartedRings">Rings a front-end has started.</param>
/// <param name="Breakpoints">Breakpoints.</param>
public sealed record VhostInfo(string Socket, string Image, string State, string Reason, long Taken, long Completions, int StartedRings, IReadOnlyList<BreakpointRow> Breakpoints);

/// <summary>
/// The command language on a live vhost-user device: the debugger's words where they apply (continue, step, pause,
/// break, delete, queue, request, events, info) plus <c>wait-connect</c> and <c>vhost</c>. Each command gives one
/// <see cref="CommandResult"/>; a bad command is a failed result and the session goes on.
/// </summary>
public sealed class VhostCommandInterpreter(VhostDebugController controller, string socket, string image)
{
    /// <summary>Default bound on waits for the guest (connect, a step's request, a breakpoint).</summary>
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(30);

    /// <summary>Command summary for <c>help</c>.</summary>
    public static IReadOnlyList<string> Help { get; } =
    [
        "wait-connect [SECONDS]   wait until a front-end has started a ring (default 30 s)",
        "wait-disconnect [SECONDS] wait until the front-end has stopped every ring (guest shut down, QEMU gone)",
        "pause                    stop taking requests; the guest's requests wait in the ring",
        "continue [SECONDS]       take requests again; with breakpoints, wait (default 30 s) for one to hit",
        "step [SECONDS]           take exactly one request and pause after it completes",
        "break SPEC               " + VhostBreakpoint.Usage,
        "break                    list breakpoints",
        "delete [ID]              delete one breakpoint, or all",
        "queue [N]                ring N: avail idx, last avail, used idx, waiting and in-flight requests",
        "request                  the request of the last stop (else the latest): chain and decoded request",
        "requests [N]             the last N requests (default 8)",
        "vhost                    the vhost-user negotiation: features, protocol features, memory regions, rings",
        "events [N] [KIND]        the last N events (default 20), optionally of one kind",
        "info                     session summary",
        "quit                     end the session",
    ];

    /// <summary>Runs one command line.</summary>
    public CommandResult Execute(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        string[] words = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        try
        {
            (object? data, bool quit) = words.Length == 0 ? (null, false) : Run(words[0].ToLowerInvariant(), words[1..]);
            return Result(line, true, null, data, quit);
        }
        catch (CommandException e)
        {
            return Result(line, false, e.Message, null, false);
        }
    }

    private (object? Data, bool Quit) Run(string verb, string[] args)
    {
        switch (verb)
        {
            case "wait-connect":
                Max(args, 1, "wait-connect [SECONDS]");
                TimeSpan t = Seconds(args, DefaultWait);
                if (!controller.WaitConnected(t))
                {
                    throw new CommandException($"no front-end started a ring within {t.TotalSeconds:0.#} s");
                }
                return (controller.Negotiation(), false);
            case "wait-disconnect":
                Max(args, 1, "wait-disconnect [SECONDS]");
                TimeSpan d = Seconds(args, DefaultWait);
                if (!controller.WaitDisconnected(d))
                {
                    throw new CommandException($"the front-end still has rings started after {d.TotalSeconds:0.#} s");
                }
                return (controller.Negotiation(), false);
            case "pause":
                Max(args, 0, "pause");
                return (controller.Pause(), false);
            case "continue" or "c":
                Max(args, 1, "continue [SECONDS]");
                return (controller.Continue(Seconds(args, DefaultWait)), false);
            case "step" or "next" or "s" or "n":
                Max(args, 1, "step [SECONDS]");
                return (controller.Step(Seconds(args, DefaultWait)), false);
            case "break" or "b":
                if (args.Length == 0)
                {
                    return (Rows(), false);
                }
                VhostBreakpoint b = controller.AddBreakpoint(args);
                return (new BreakpointRow(b.Id, b.Spec), false);
            case "breakpoints":
                Max(args, 0, "breakpoints");
                return (Rows(), false);
            case "delete":
                Max(args, 1, "delete [ID]");
                int? id = args.Length == 0 ? null : (int)Numbers.Parse(args[0], "breakpoint", int.MaxValue);
                if (!controller.DeleteBreakpoint(id))
                {
                    throw new CommandException($"no breakpoint {id}");
                }
                return (Rows(), false);
            case "queue" or "q":
                Max(args, 1, "queue [N]");
                return (controller.Queue(args.Length == 0 ? 0 : (int)Numbers.Parse(args[0], "queue", 63)), false);
            case "request" or "chain":
                Max(args, 0, verb);
                return (controller.CurrentRequest() ?? throw new CommandException("no request has been taken yet"), false);
            case "requests":
                Max(args, 1, "requests [N]");
                return (controller.Requests(args.Length == 0 ? 8 : (int)Numbers.Parse(args[0], "count", VhostDebugController.KeptRequests)), false);
            case "vhost" or "regs":
                Max(args, 0, verb);
                return (controller.Negotiation(), false);
            case "events":
                Max(args, 2, "events [N] [KIND]");
                int n = args.Length == 0 ? 20 : (int)Numbers.Parse(args[0], "count", VhostDebugController.KeptEvents);
                string? kind = args.Length == 2 ? args[1].ToLowerInvariant() : null;
                if (kind is not null && !EventRecord.Kinds.Contains(kind))
                {
                    throw new CommandException($"unknown event kind '{args[1]}' (one of: {string.Join(", ", EventRecord.Kinds)})");
                }
                return (controller.Events(n, kind), false);
            case "info":
                Max(args, 0, "info");
                return (new VhostInfo(socket, image, VhostDebugController.StateName(controller.State), controller.Reason, controller.Taken,
                    controller.Completions, controller.Backend.StartedRings, Rows()), false);
            case "help" or "h" or "?":
                return (Help, false);
            case "quit" or "exit":
                return (null, true);
            case "back" or "compose" or "mmio":
                throw new CommandException($"{verb} is not available on a live vhost-user device (a real guest cannot be re-executed or driven from here)");
            default:
                throw new CommandException($"unknown command '{verb}' (help lists the commands)");
        }
    }

    private List<BreakpointRow> Rows() => [.. controller.Breakpoints.Select(b => new BreakpointRow(b.Id, b.Spec))];

    private CommandResult Result(string line, bool ok, string? error, object? data, bool quit) => new()
    {
        Command = line,
        Ok = ok,
        Error = error,
        Position = controller.Completions,
        State = VhostDebugController.StateName(controller.State),
        Data = data,
        Quit = quit,
    };

    private static void Max(string[] args, int max, string usage)
    {
        if (args.Length > max)
        {
            throw new CommandException($"usage: {usage}");
        }
    }

    private static TimeSpan Seconds(string[] args, TimeSpan fallback) =>
        args.Length == 0 ? fallback : TimeSpan.FromSeconds(Numbers.Parse(args[0], "seconds", 86_400));
}

/// <summary>Batch mode on a vhost-user device: one command per line, each result as text or one JSON object.</summary>
public static class VhostBatchRunner
{
    private static readonly JsonSerializerOptions Json = BatchRunner.CreateJsonOptions(VhostJsonContext.Default);

    /// <summary>Runs every command of <paramref name="input"/> (blank lines and # comments skipped); returns how many failed.</summary>
    public static int Run(VhostCommandInterpreter interpreter, TextReader input, TextWriter output, bool json)
    {
        ArgumentNullException.ThrowIfNull(interpreter);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        int failed = 0;
        while (input.ReadLine() is { } line)
        {
            string trimmed = line.Trim();
            if (trimmed.Length == 0 || trimmed.StartsWith('#'))
            {
                continue;
            }
            CommandResult result = interpreter.Execute(trimmed);
            failed += result.Ok ? 0 : 1;
            output.Write(json ? BatchRunner.ToJson(result, Json) + "\n" : $"({result.Command})\n{VhostTextFormatter.Format(result)}");
            output.Flush();
            if (result.Quit)
            {
                break;
            }
        }
        return failed;
    }
}
