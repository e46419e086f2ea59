using System.Globalization;
using VirtioScope.Block;
using VirtioScope.Virtio;
using VirtioScope.Virtio.Events;

namespace VirtioScope.Debugger.Breakpoints;

/// <summary>What a breakpoint watches.</summary>
public enum BreakpointKind
{
    /// <summary>A load or store at one register offset.</summary>
    Mmio,

    /// <summary>Any change of the device status.</summary>
    Status,

    /// <summary>A request of one type was parsed.</summary>
    RequestType,

    /// <summary>A read or write touched a sector range.</summary>
    Sector,

    /// <summary>A request completed with a status other than OK.</summary>
    Error,

    /// <summary>The device reported a driver fault.</summary>
    Fault,

    /// <summary>The driver notified one queue.</summary>
    Notify,
}

/// <summary>Which MMIO accesses an MMIO breakpoint watches.</summary>
public enum MmioAccessKind
{
    /// <summary>Loads and stores.</summary>
    ReadWrite,

    /// <summary>Loads only.</summary>
    Read,

    /// <summary>Stores only.</summary>
    Write,
}

/// <summary>A condition that stops a running session; made by <see cref="BreakpointParser"/>.</summary>
public sealed record Breakpoint
{
    /// <summary>Number shown to the user and used by <c>delete</c>.</summary>
    public required int Id { get; init; }

    /// <summary>What it watches.</summary>
    public required BreakpointKind Kind { get; init; }

    /// <summary>Register offset (MMIO breakpoints).</summary>
    public int Offset { get; init; }

    /// <summary>Loads, stores or both (MMIO breakpoints).</summary>
    public MmioAccessKind Access { get; init; }

    /// <summary>Value the access must carry, if any (MMIO breakpoints).</summary>
    public uint? Value { get; init; }

    /// <summary>Request type (request-type breakpoints).</summary>
    public BlkRequestType RequestType { get; init; }

    /// <summary>First sector (sector breakpoints).</summary>
    public ulong FirstSector { get; init; }

    /// <summary>Last sector, inclusive (sector breakpoints).</summary>
    public ulong LastSector { get; init; }

    /// <summary>Queue (notify breakpoints).</summary>
    public int Queue { get; init; }

    /// <summary>Whether an MMIO breakpoint can only be decided after the access (a load with a value).</summary>
    public bool DecidedAfterAccess => Kind == BreakpointKind.Mmio && Access == MmioAccessKind.Read && Value is not null;

    /// <summary>Whether this MMIO breakpoint stops before the given access.</summary>
    public bool MatchesBefore(int offset, bool isWrite, uint value) =>
        Kind == BreakpointKind.Mmio && !DecidedAfterAccess && offset == Offset
        && (Access == MmioAccessKind.ReadWrite || (Access == MmioAccessKind.Write) == isWrite)
        && (Value is null || (isWrite && Value == value));

    /// <summary>Whether this breakpoint stops after an event (before the next access).</summary>
    public bool MatchesEvent(VirtioEvent e) => (Kind, e) switch
    {
        (BreakpointKind.Mmio, MmioAccessEvent a) => DecidedAfterAccess && !a.IsWrite && a.Offset == Offset && a.Value == Value,
        (BreakpointKind.Status, StatusChangeEvent) => true,
        (BreakpointKind.RequestType, RequestParsedEvent r) => r.Type == RequestType.ToString(),
        (BreakpointKind.Sector, RequestParsedEvent r) => r.Type is nameof(BlkRequestType.In) or nameof(BlkRequestType.Out)
            && r.DataBytes > 0 && r.Sector <= LastSector && r.Sector + ((r.DataBytes - 1) / BlkLayout.SectorSize) >= FirstSector,
        (BreakpointKind.Error, CompletionEvent c) => c.Status != (byte)BlkStatus.Ok,
        (BreakpointKind.Fault, FaultEvent) => true,
        (BreakpointKind.Notify, QueueNotifyEvent n) => n.Queue == Queue,
        _ => false,
    };

    /// <summary>The spec in the command language's own words.</summary>
    public string Spec => Kind switch
    {
        BreakpointKind.Mmio => string.Create(CultureInfo.InvariantCulture,
            $"mmio 0x{Offset:x3} ({MmioRegisters.Name(Offset)}) {AccessName}{(Value is { } v ? $" =0x{v:x}" : "")}"),
        BreakpointKind.Status => "status",
        BreakpointKind.RequestType => $"type {RequestNames.Of(RequestType)}",
        BreakpointKind.Sector => string.Create(CultureInfo.InvariantCulture, $"sector {FirstSector}-{LastSector}"),
        BreakpointKind.Error => "error",
        BreakpointKind.Fault => "fault",
        BreakpointKind.Notify => string.Create(CultureInfo.InvariantCulture, $"notify {Queue}"),
        _ => Kind.ToString(),
    };

    private string AccessName => Access switch
    {
        MmioAccessKind.Read => "read",
        MmioAccessKind.Write => "write",
        _ => "rw",
    };
}
