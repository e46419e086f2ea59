using VirtioScope.Block;
using VirtioScope.Debugger;
using VirtioScope.Debugger.Breakpoints;
using VirtioScope.Virtio.Events;

namespace VirtioScope.VhostDebug;

/// <summary>
/// A breakpoint on a live vhost-user device: the debugger's request-type, sector-range and error breakpoints, or a
/// completion with one particular status. The session stops after the matching request completes.
/// </summary>
public sealed record VhostBreakpoint
{
    /// <summary>Usage of <c>break</c> on a vhost-user device.</summary>
    public const string Usage = "break type=TYPE | break sector=A-B | break status=ioerr|unsupp|error (also: break type TYPE, break sector A-B, break error)";

    private VhostBreakpoint(int id, Breakpoint? inner, byte? status)
    {
        Id = id;
        Inner = inner;
        Status = status;
    }

    /// <summary>Number used by <c>delete</c>.</summary>
    public int Id { get; }

    /// <summary>The debugger's breakpoint, for type, sector and error breakpoints.</summary>
    public Breakpoint? Inner { get; }

    /// <summary>The completion status watched by a status breakpoint.</summary>
    public byte? Status { get; }

    /// <summary>What it watches, in the command language's words.</summary>
    public string Spec => Inner?.Spec ?? $"status {RequestNames.Status(Status ?? 0).ToLowerInvariant()}";

    /// <summary>Parses the words after <c>break</c>, in either the key=value or the debugger's own form.</summary>
    /// <exception cref="CommandException">A bad or unsupported spec, with one clear message.</exception>
    public static VhostBreakpoint Parse(int id, IReadOnlyList<string> words)
    {
        ArgumentNullException.ThrowIfNull(words);
        if (words.Count == 1 && words[0].Contains('=', StringComparison.Ordinal))
        {
            string[] kv = words[0].Split('=', 2);
            words = [kv[0], kv[1]];
        }
        if (words.Count == 0)
        {
            throw new CommandException($"break needs a kind: {Usage}");
        }
        string kind = words[0].ToLowerInvariant();
        switch (kind)
        {
            case "type" or "sector" or "error":
                return new VhostBreakpoint(id, BreakpointParser.Parse(id, words), null);
            case "status" when words.Count == 2:
                return words[1].ToLowerInvariant() switch
                {
                    "error" or "any" => new VhostBreakpoint(id, BreakpointParser.Parse(id, ["error"]), null),
                    "ioerr" => new VhostBreakpoint(id, null, (byte)BlkStatus.IoErr),
                    "unsupp" => new VhostBreakpoint(id, null, (byte)BlkStatus.Unsupp),
                    _ => throw new CommandException($"unknown completion status '{words[1]}' (one of: ioerr, unsupp, error)"),
                };
            case "mmio" or "status" or "fault" or "notify":
                throw new CommandException($"break {kind} is not available on a vhost-user device (no MMIO transport): {Usage}");
            default:
                throw new CommandException($"unknown breakpoint kind '{words[0]}': {Usage}");
        }
    }

    /// <summary>Whether the parsed request matches (type and sector breakpoints).</summary>
    public bool MatchesRequest(RequestParsedEvent e) => Inner is { Kind: BreakpointKind.RequestType or BreakpointKind.Sector } b && b.MatchesEvent(e);

    /// <summary>Whether the completion matches (status and error breakpoints).</summary>
    public bool MatchesCompletion(CompletionEvent e) => Status is { } s ? e.Status == s : Inner is { Kind: BreakpointKind.Error } b && b.MatchesEvent(e);
}
