namespace VirtioScope.Virtio.Transport;

/// <summary>Which virtio-mmio register layout the transport presents.</summary>
public enum MmioVersion
{
    /// <summary>Version 1, the legacy layout (GuestPageSize, QueueAlign, QueuePFN); Linux and QEMU default to it.</summary>
    Legacy = 1,

    /// <summary>Version 2, the VirtIO 1.x layout (QueueReady, split area addresses, FEATURES_OK).</summary>
    Modern = 2,
}

/// <summary>How the transport is set up.</summary>
public sealed record MmioTransportOptions
{
    /// <summary>Register layout version.</summary>
    public MmioVersion Version { get; init; } = MmioVersion.Modern;

    /// <summary>Guest-physical base of the register window.</summary>
    public ulong BaseAddress { get; init; } = MmioRegisters.DefaultBase;

    /// <summary>Size of the register window.</summary>
    public ulong WindowSize { get; init; } = MmioRegisters.DefaultSize;

    /// <summary>Value of the VendorID register ("VSCP").</summary>
    public uint VendorId { get; init; } = 0x5043_5356;
}
