namespace VirtioScope.VhostDebug;

/// <summary>Running, paused, or taking one request.</summary>
public enum VhostRunState
{
    /// <summary>Requests are taken as the guest makes them.</summary>
    Running,

    /// <summary>No request is taken; the guest's requests wait in the ring.</summary>
    Paused,

    /// <summary>One request is let through; the session pauses once it completes.</summary>
    Stepping,
}

/// <summary>Where the controller stands after pause, continue or step.</summary>
/// <param name="State">paused, running or stepping.</param>
/// <param name="Reason">Why it stopped, or what it is doing.</param>
/// <param name="Breakpoint">Breakpoint that stopped it, or 0.</param>
/// <param name="Completions">Requests completed so far.</param>
/// <param name="Request">The request the stop is about (the stepped one or the one that hit a breakpoint).</param>
public sealed record VhostMoveResult(string State, string Reason, int Breakpoint, long Completions, Debugger.RequestView? Request);

/// <summary>One ring as <c>queue N</c> shows it.</summary>
public sealed record VhostQueueView
{
    /// <summary>Ring index.</summary>
    public required int Index { get; init; }

    /// <summary>split, packed, or "not started".</summary>
    public required string Format { get; init; }

    /// <summary>SET_VRING_NUM.</summary>
    public required int Size { get; init; }

    /// <summary>SET_VRING_ENABLE.</summary>
    public required bool Enabled { get; init; }

    /// <summary>A worker serves the ring.</summary>
    public required bool Started { get; init; }

    /// <summary>Descriptor table, guest-physical (while started).</summary>
    public ulong? DescAddress { get; init; }

    /// <summary>Driver (avail) area, guest-physical.</summary>
    public ulong? AvailAddress { get; init; }

    /// <summary>Device (used) area, guest-physical.</summary>
    public ulong? UsedAddress { get; init; }

    /// <summary>Split: the driver's avail idx now.</summary>
    public int? AvailIdx { get; init; }

    /// <summary>The device's last avail index (next slot it takes).</summary>
    public int? LastAvail { get; init; }

    /// <summary>Split: the used idx now.</summary>
    public int? UsedIdx { get; init; }

    /// <summary>The device's next used slot.</summary>
    public int? NextUsed { get; init; }

    /// <summary>Split: requests the guest made available that the device has not taken (avail idx - last avail).</summary>
    public int? Waiting { get; init; }

    /// <summary>Requests taken and not yet completed.</summary>
    public required int InFlight { get; init; }

    /// <summary>Requests on this ring completed while the debugger watched.</summary>
    public required long Completed { get; init; }

    /// <summary>Packed: device wrap counters.</summary>
    public string? WrapCounters { get; init; }

    /// <summary>The ring's error, if it broke.</summary>
    public string? Error { get; init; }
}

/// <summary>A ring's negotiation state in <c>vhost</c>.</summary>
/// <param name="Index">Ring.</param>
/// <param name="Size">SET_VRING_NUM.</param>
/// <param name="Desc">Descriptor table, front-end virtual address (SET_VRING_ADDR).</param>
/// <param name="Avail">Avail ring, front-end virtual address.</param>
/// <param name="Used">Used ring, front-end virtual address.</param>
/// <param name="Enabled">SET_VRING_ENABLE.</param>
/// <param name="Kick">A kick eventfd was given.</param>
/// <param name="Started">Served by a worker.</param>
/// <param name="Base">Base (SET/GET_VRING_BASE encoding).</param>
/// <param name="LastAvail">Device's last avail index while started.</param>
/// <param name="UsedIdx">Used idx in guest memory (split) or the device's next used slot (packed).</param>
public sealed record VhostRingRow(int Index, int Size, ulong? Desc, ulong? Avail, ulong? Used, bool Enabled, bool Kick, bool Started, uint Base, int? LastAvail, int? UsedIdx);

/// <summary>A memory region in <c>vhost</c>.</summary>
/// <param name="GuestPhys">Guest-physical base.</param>
/// <param name="Size">Bytes.</param>
/// <param name="UserAddr">Front-end virtual address.</param>
/// <param name="MmapOffset">Offset in the shared file.</param>
public sealed record VhostRegionRow(ulong GuestPhys, ulong Size, ulong UserAddr, ulong MmapOffset);

/// <summary>The vhost-user negotiation, in place of the MMIO register view.</summary>
public sealed record VhostNegotiationView
{
    /// <summary>Whether a front-end is connected with features set.</summary>
    public required bool Negotiated { get; init; }

    /// <summary>Offered virtio features, hex.</summary>
    public required string OfferedFeatures { get; init; }

    /// <summary>Accepted virtio features, hex.</summary>
    public required string Features { get; init; }

    /// <summary>Accepted virtio features by name.</summary>
    public required string FeatureNames { get; init; }

    /// <summary>Accepted protocol features, hex.</summary>
    public required string ProtocolFeatures { get; init; }

    /// <summary>Accepted protocol features by name.</summary>
    public required string ProtocolFeatureNames { get; init; }

    /// <summary>Memory table.</summary>
    public required IReadOnlyList<VhostRegionRow> Regions { get; init; }

    /// <summary>Rings.</summary>
    public required IReadOnlyList<VhostRingRow> Rings { get; init; }
}
