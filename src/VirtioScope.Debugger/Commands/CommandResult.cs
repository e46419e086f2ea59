namespace VirtioScope.Debugger;

/// <summary>An event as command results carry it.</summary>
/// <param name="Sequence">Event number in the device's stream.</param>
/// <param name="Position">Register access it happened in.</param>
/// <param name="Kind">Kind name.</param>
/// <param name="Text">One-line description.</param>
public sealed record EventRow(long Sequence, long Position, string Kind, string Text)
{
    /// <summary>Converts a kept event.</summary>
    public static EventRow From(EventRecord e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return new EventRow(e.Event.Sequence, e.Position, e.Kind, e.Text);
    }
}

/// <summary>Where the session stopped after a movement command, and what happened on the way.</summary>
/// <param name="From">Position before the command.</param>
/// <param name="To">Position after it.</param>
/// <param name="Reason">Why it stopped.</param>
/// <param name="Breakpoint">Breakpoint that stopped it, or 0.</param>
/// <param name="Status">Device status after the command.</param>
/// <param name="Events">The last events of the movement (at most 20).</param>
public sealed record MoveResult(long From, long To, string Reason, int Breakpoint, string Status, IReadOnlyList<EventRow> Events);

/// <summary>A breakpoint as command results list it.</summary>
/// <param name="Id">Number.</param>
/// <param name="Spec">What it watches.</param>
public sealed record BreakpointRow(int Id, string Spec);

/// <summary>Session summary for <c>info</c>.</summary>
public sealed record InfoResult
{
    /// <summary>What drives the device.</summary>
    public required string Source { get; init; }

    /// <summary>Image path, or memory.</summary>
    public required string Medium { get; init; }

    /// <summary>Workload and its main options.</summary>
    public required string Workload { get; init; }

    /// <summary>Transport and ring layout.</summary>
    public required string Transport { get; init; }

    /// <summary>Paused, running, finished, failed.</summary>
    public required string State { get; init; }

    /// <summary>Why it last stopped.</summary>
    public required string StopReason { get; init; }

    /// <summary>Requests completed.</summary>
    public required long Completions { get; init; }

    /// <summary>Breakpoints.</summary>
    public required IReadOnlyList<BreakpointRow> Breakpoints { get; init; }

    /// <summary>The backend.</summary>
    public required BackendView Backend { get; init; }
}

/// <summary>The outcome of one command: what it did, or why not. The session goes on either way.</summary>
public sealed record CommandResult
{
    /// <summary>The command line as given.</summary>
    public required string Command { get; init; }

    /// <summary>Whether it worked.</summary>
    public required bool Ok { get; init; }

    /// <summary>The one clear message when it did not.</summary>
    public string? Error { get; init; }

    /// <summary>Register accesses executed after the command.</summary>
    public required long Position { get; init; }

    /// <summary>paused, running, finished or failed.</summary>
    public required string State { get; init; }

    /// <summary>The command's data: a <see cref="MoveResult"/>, <see cref="DeviceSnapshot"/>, <see cref="QueueSnapshot"/>, <see cref="RequestView"/>, events, and so on.</summary>
    public object? Data { get; init; }

    /// <summary>Whether the command asked to end the session.</summary>
    public bool Quit { get; init; }
}
