// Member names are the specification's own; the type documentation cites the section that defines them.
#pragma warning disable CS1591

namespace VirtioScope.Virtio;

/// <summary>Device status bits (VirtIO 1.2 section 2.1).</summary>
[Flags]
public enum DeviceStatus : byte
{
    /// <summary>Reset state.</summary>
    None = 0,
    Acknowledge = 1,
    Driver = 2,
    DriverOk = 4,
    FeaturesOk = 8,
    DeviceNeedsReset = 64,
    Failed = 128,
}
