namespace VirtioScope.Debugger;

/// <summary>One register or configuration field: its name, offset, raw value and decoded meaning.</summary>
/// <param name="Name">Register or field name.</param>
/// <param name="Offset">Offset in the register window (config fields: from 0x100).</param>
/// <param name="Value">Raw value.</param>
/// <param name="Decoded">Meaning (status bits, feature names, address), or empty.</param>
public sealed record RegisterRow(string Name, int Offset, ulong Value, string Decoded)
{
    /// <summary>Value in hex.</summary>
    public string Hex => $"0x{Value:x}";
}

/// <summary>One entry of a split ring's available ring.</summary>
/// <param name="Slot">Ring slot.</param>
/// <param name="Head">Descriptor chain head.</param>
public sealed record AvailEntry(int Slot, ushort Head);

/// <summary>One entry of a split ring's used ring.</summary>
/// <param name="Slot">Ring slot.</param>
/// <param name="Id">Chain head id.</param>
/// <param name="Length">Bytes written.</param>
public sealed record UsedEntry(int Slot, uint Id, uint Length);

/// <summary>One descriptor of a packed ring.</summary>
/// <param name="Slot">Ring slot.</param>
/// <param name="Address">Buffer address.</param>
/// <param name="Length">Buffer length.</param>
/// <param name="Id">Buffer id.</param>
/// <param name="Flags">NEXT, WRITE, INDIRECT, AVAIL and USED by name.</param>
public sealed record PackedEntry(int Slot, ulong Address, uint Length, ushort Id, string Flags);

/// <summary>A queue's registers and ring state.</summary>
public sealed record QueueSnapshot
{
    /// <summary>Queue index.</summary>
    public required int Index { get; init; }

    /// <summary>QueueNum: the size the driver chose.</summary>
    public required int Size { get; init; }

    /// <summary>QueueNumMax.</summary>
    public required int SizeMax { get; init; }

    /// <summary>QueueReady (or, legacy, a PFN is set).</summary>
    public required bool Ready { get; init; }

    /// <summary>split, packed, or "not live" before the device built the queue.</summary>
    public required string Format { get; init; }

    /// <summary>Descriptor table address.</summary>
    public required ulong DescAddress { get; init; }

    /// <summary>Driver area (available ring, or driver event suppression) address.</summary>
    public required ulong DriverAddress { get; init; }

    /// <summary>Device area (used ring, or device event suppression) address.</summary>
    public required ulong DeviceAddress { get; init; }

    /// <summary>avail->idx (split).</summary>
    public ushort? AvailIdx { get; init; }

    /// <summary>used->idx (split).</summary>
    public ushort? UsedIdx { get; init; }

    /// <summary>The device's last seen available index (next to pop).</summary>
    public ushort? LastSeenAvail { get; init; }

    /// <summary>The device's next used index.</summary>
    public ushort? NextUsed { get; init; }

    /// <summary>used_event (split, event idx) or the driver's event suppression offset (packed).</summary>
    public ushort? UsedEvent { get; init; }

    /// <summary>avail_event (split, event idx) or the device's event suppression offset (packed).</summary>
    public ushort? AvailEvent { get; init; }

    /// <summary>Requests the driver made available that the device has not yet used.</summary>
    public int? InFlight { get; init; }

    /// <summary>Packed: the device's available wrap counter.</summary>
    public bool? AvailWrapCounter { get; init; }

    /// <summary>Packed: the device's used wrap counter.</summary>
    public bool? UsedWrapCounter { get; init; }

    /// <summary>Split: the available ring.</summary>
    public IReadOnlyList<AvailEntry> AvailRing { get; init; } = [];

    /// <summary>Split: the used ring.</summary>
    public IReadOnlyList<UsedEntry> UsedRing { get; init; } = [];

    /// <summary>Packed: the descriptor ring.</summary>
    public IReadOnlyList<PackedEntry> PackedRing { get; init; } = [];
}

/// <summary>Everything the views show about the device at one point of a session.</summary>
public sealed record DeviceSnapshot
{
    /// <summary>Register accesses admitted.</summary>
    public required long Position { get; init; }

    /// <summary>Requests completed.</summary>
    public required long Completions { get; init; }

    /// <summary>Events published.</summary>
    public required long Events { get; init; }

    /// <summary>Status bits by name.</summary>
    public required string Status { get; init; }

    /// <summary>The register window, decoded.</summary>
    public required IReadOnlyList<RegisterRow> Registers { get; init; }

    /// <summary>The device configuration space, decoded.</summary>
    public required IReadOnlyList<RegisterRow> Config { get; init; }

    /// <summary>Every queue.</summary>
    public required IReadOnlyList<QueueSnapshot> Queues { get; init; }

    /// <summary>Names of registers and config fields whose value differs from the previous snapshot.</summary>
    public required IReadOnlyList<string> Changed { get; init; }
}
