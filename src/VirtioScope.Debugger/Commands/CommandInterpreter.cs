using System.Globalization;
using VirtioScope.Block;
using VirtioScope.Debugger.Breakpoints;
using VirtioScope.Debugger.Sources;

namespace VirtioScope.Debugger;

/// <summary>The command language shared by the TUI's <c>:</c> line and batch mode.</summary>
public sealed class CommandInterpreter(DebugSession session)
{
    /// <summary>Help text: one line per command.</summary>
    public static IReadOnlyList<string> Help { get; } =
    [
        "step [N]                 execute N register accesses (F11)",
        "next [N]                 run until N more requests complete (F10)",
        "continue [N]             run until a breakpoint hits N times (F5; F6 pauses)",
        "back [N]                 go back N register accesses by re-execution (F7)",
        "back request [N]         go back N requests (F8)",
        "break mmio OFFSET [read|write|rw] [=VALUE]",
        "break status | break type TYPE | break sector A-B | break error | break fault | break notify Q",
        "delete N|all             remove breakpoints; breaks lists them",
        "regs                     registers and config space, decoded",
        "queue N                  a queue's state and rings",
        "chain [ID] [QUEUE]       descriptor chain of the last (or given) request",
        "request                  the selected request, decoded",
        "events [N] [KIND]        last N events; KIND: " + string.Join(", ", EventRecord.Kinds),
        "backend                  image format, size, where the request's sectors live",
        "compose TYPE SECTOR COUNT [PATTERN] [QUEUE]   a request the guest submits next (n)",
        "info                     session summary",
        "quit                     end the session (q)",
    ];

    /// <summary>The session commands act on.</summary>
    public DebugSession Session { get; } = session ?? throw new ArgumentNullException(nameof(session));

    /// <summary>Runs one command line; never throws for bad input.</summary>
    public CommandResult Execute(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        string[] words = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        try
        {
            (object? data, bool quit) = words.Length == 0 ? (null, false) : Dispatch(words);
            return Result(line, data, error: null, quit);
        }
        catch (CommandException e)
        {
            return Result(line, data: null, e.Message, quit: false);
        }
    }

    private CommandResult Result(string line, object? data, string? error, bool quit) => new()
    {
        Command = line.Trim(),
        Ok = error is null,
        Error = error,
        Position = Session.Position,
        State = Session.State.ToString().ToLowerInvariant(),
        Data = data,
        Quit = quit,
    };

    private (object? Data, bool Quit) Dispatch(string[] w)
    {
        string verb = w[0].ToLowerInvariant();
        return verb switch
        {
            "step" or "s" or "si" => (Move(() => Session.Step(Count(w, 1))), false),
            "next" or "n" => (Move(() => Session.Next(Count(w, 1))), false),
            "continue" or "c" or "cont" => (Move(() => Session.Continue(Count(w, 1))), false),
            "back" or "b" when w.Length > 1 && w[1].Equals("request", StringComparison.OrdinalIgnoreCase) =>
                (Move(() => Session.BackRequest(Count(w, 2))), false),
            "back" or "b" => (Move(() => Session.Back(Count(w, 1))), false),
            "break" or "br" => (Break(w), false),
            "delete" or "d" => (Delete(w), false),
            "breaks" => (Session.Breakpoints.Select(b => new BreakpointRow(b.Id, b.Spec)).ToList(), false),
            "regs" or "registers" => (NoArgs(w, Session.Snapshot), false),
            "queue" or "q" when w.Length > 1 => (Queue(w), false),
            "queue" => throw new CommandException("usage: queue N"),
            "chain" => (Chain(w), false),
            "request" or "req" => (NoArgs(w, () => Session.Request() ?? throw new CommandException("no request yet: the device has not popped a chain")), false),
            "events" or "ev" => (Events(w), false),
            "backend" => (NoArgs(w, Session.Backend), false),
            "compose" => (Compose(w), false),
            "info" => (NoArgs(w, Info), false),
            "help" or "h" or "?" => (Help, false),
            "quit" or "q" or "exit" => (null, true),
            _ => throw new CommandException($"unknown command '{w[0]}' (try help)"),
        };
    }

    private static T NoArgs<T>(string[] w, Func<T> f) => w.Length == 1 ? f() : throw new CommandException($"{w[0]} takes no arguments");

    private static long Count(string[] w, int index)
    {
        if (w.Length > index + 1)
        {
            throw new CommandException($"usage: {w[0]} [N]");
        }
        return w.Length > index ? Math.Max(1, Numbers.Parse(w[index], "count", long.MaxValue)) : 1;
    }

    private MoveResult Move(Action move)
    {
        long from = Session.Position;
        long eventsBefore = Session.Snapshot().Events;
        move();
        DeviceSnapshot s = Session.Snapshot();
        int fresh = (int)Math.Clamp(s.Events - eventsBefore, 0, 20);
        IReadOnlyList<EventRow> events = s.Position >= from && fresh > 0
            ? Session.Events(fresh).Select(EventRow.From).ToList()
            : [];
        return new MoveResult(from, Session.Position, Session.StopReason, Session.StoppedAtBreakpoint, s.Status, events);
    }

    private BreakpointRow Break(string[] w)
    {
        Breakpoint b = Session.AddBreakpoint(w[1..]);
        return new BreakpointRow(b.Id, b.Spec);
    }

    private List<BreakpointRow> Delete(string[] w)
    {
        if (w.Length != 2)
        {
            throw new CommandException("usage: delete N|all");
        }
        if (w[1].Equals("all", StringComparison.OrdinalIgnoreCase))
        {
            Session.DeleteAllBreakpoints();
        }
        else
        {
            Session.DeleteBreakpoint((int)Numbers.Parse(w[1], "breakpoint", int.MaxValue));
        }
        return Session.Breakpoints.Select(b => new BreakpointRow(b.Id, b.Spec)).ToList();
    }

    private QueueSnapshot Queue(string[] w)
    {
        if (w.Length != 2)
        {
            throw new CommandException("usage: queue N");
        }
        DeviceSnapshot s = Session.Snapshot();
        int n = (int)Numbers.Parse(w[1], "queue", int.MaxValue);
        return n < s.Queues.Count ? s.Queues[n] : throw new CommandException($"queue {n} does not exist ({s.Queues.Count} queues)");
    }

    private RequestView Chain(string[] w)
    {
        if (w.Length > 3)
        {
            throw new CommandException("usage: chain [ID] [QUEUE]");
        }
        if (w.Length == 1)
        {
            return Session.Request() ?? throw new CommandException("no chain yet: the device has not popped one");
        }
        int id = (int)Numbers.Parse(w[1], "chain id", ushort.MaxValue);
        int queue = w.Length == 3 ? (int)Numbers.Parse(w[2], "queue", 63) : 0;
        return Session.SelectRequest(queue, id);
    }

    private List<EventRow> Events(string[] w)
    {
        int count = 20;
        string? kind = null;
        foreach (string a in w[1..])
        {
            if (char.IsAsciiDigit(a[0]))
            {
                count = (int)Numbers.Parse(a, "count", int.MaxValue);
            }
            else
            {
                kind = a.ToLowerInvariant();
            }
        }
        return Session.Events(count, kind).Select(EventRow.From).ToList();
    }

    private ComposedRequest Compose(string[] w)
    {
        if (w.Length is < 2 or > 6)
        {
            throw new CommandException("usage: compose TYPE SECTOR COUNT [PATTERN] [QUEUE]");
        }
        if (!ComposedRequest.TypeNames.TryGetValue(w[1], out BlkRequestType type))
        {
            throw new CommandException($"unknown request type '{w[1]}' (one of: {string.Join(", ", ComposedRequest.TypeNames.Keys)})");
        }
        ulong sector = w.Length > 2 ? (ulong)Numbers.Parse(w[2], "sector", long.MaxValue) : 0;
        uint count = w.Length > 3 ? (uint)Numbers.Parse(w[3], "count", uint.MaxValue) : 0;
        byte pattern = w.Length > 4 ? (byte)Numbers.Parse(w[4], "pattern", byte.MaxValue) : (byte)0xa5;
        int queue = w.Length > 5 ? (int)Numbers.Parse(w[5], "queue", 63) : 0;
        if (type is BlkRequestType.Flush or BlkRequestType.GetId)
        {
            sector = 0;
            count = 0;
        }
        else if (w.Length < 4)
        {
            throw new CommandException($"usage: compose {w[1]} SECTOR COUNT [PATTERN] [QUEUE]");
        }
        var request = new ComposedRequest(type, sector, count, pattern, queue);
        Session.Compose(request);
        return request;
    }

    private InfoResult Info()
    {
        SessionOptions o = Session.Options;
        return new InfoResult
        {
            Source = Session.SourceDescription,
            Medium = o.BaseDescription ?? o.ImagePath ?? string.Create(CultureInfo.InvariantCulture, $"memory disk of {o.MemoryBytes} bytes"),
            Workload = o.RecordedWorkload is { } recorded ? $"as recorded: {recorded}" : string.Create(CultureInfo.InvariantCulture,
                $"{o.Workload}, {o.Requests} requests, depth {o.QueueDepth}, block size {o.BlockSize}, seed {o.Seed}"),
            Transport = $"{(o.Legacy ? "legacy virtio-mmio v1" : "virtio-mmio v2")}, "
                + (o.RecordedWorkload is null ? $"{(o.Packed ? "packed" : "split")} rings, " : "rings as negotiated in the recording, ")
                + string.Create(CultureInfo.InvariantCulture, $"{o.Queues} queue(s)"),
            State = Session.State.ToString().ToLowerInvariant(),
            StopReason = Session.StopReason,
            Completions = Session.Completions,
            Breakpoints = Session.Breakpoints.Select(b => new BreakpointRow(b.Id, b.Spec)).ToList(),
            Backend = Session.Backend(),
        };
    }
}
