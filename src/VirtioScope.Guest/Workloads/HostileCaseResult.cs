namespace VirtioScope.Guest.Workloads;

/// <summary>How the device answered one kind of malformed request in the hostile workload.</summary>
public sealed class HostileCaseResult
{
    internal HostileCaseResult(string name, string expected, HostileOutcome allowed)
    {
        Name = name;
        Expected = expected;
        Allowed = allowed;
    }

    /// <summary>The outcomes that conform to the spec for this malformation.</summary>
    public HostileOutcome Allowed { get; }

    /// <summary>Injections whose outcome is not in <see cref="Allowed"/>: each one is a device bug.</summary>
    public long Unexpected =>
        Count(HostileOutcome.Ok, Ok) + Count(HostileOutcome.IoErr, IoErr) + Count(HostileOutcome.Unsupp, Unsupp)
        + Count(HostileOutcome.NoStatus, NoStatus) + Count(HostileOutcome.NeedsReset, NeedsReset) + Count(HostileOutcome.Unanswered, Unanswered);

    private long Count(HostileOutcome outcome, long n) => (Allowed & outcome) != 0 ? 0 : n;

    /// <summary>Name of the malformation.</summary>
    public string Name { get; }

    /// <summary>What the spec asks of the device, in words.</summary>
    public string Expected { get; }

    /// <summary>Times injected.</summary>
    public long Injected { get; internal set; }

    /// <summary>Completed with OK (a device bug for every case that must fail).</summary>
    public long Ok { get; internal set; }

    /// <summary>Completed with IOERR.</summary>
    public long IoErr { get; internal set; }

    /// <summary>Completed with UNSUPP.</summary>
    public long Unsupp { get; internal set; }

    /// <summary>Returned without a status byte (the status descriptor was unusable).</summary>
    public long NoStatus { get; internal set; }

    /// <summary>The device set DEVICE_NEEDS_RESET; the guest reset it and carried on.</summary>
    public long NeedsReset { get; internal set; }

    /// <summary>Neither completed nor flagged within the poll bound; the guest reset the device.</summary>
    public long Unanswered { get; internal set; }
}
