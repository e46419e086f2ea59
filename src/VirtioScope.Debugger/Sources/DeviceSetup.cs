using VirtioScope.Block;
using VirtioScope.Tracing.Format;
using VirtioScope.Tracing.Recording;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Debugger.Sources;

/// <summary>
/// The device, register window and sandbox a source needs when they are not the ones the session's options imply
/// (a recording brings its own), and what the source wants to see of the device's work.
/// </summary>
public sealed record DeviceSetup
{
    /// <summary>Device configuration.</summary>
    public required BlockDeviceOptions Device { get; init; }

    /// <summary>Register window (version, base, size, vendor).</summary>
    public required MmioTransportOptions Transport { get; init; }

    /// <summary>Guest-physical memory regions of the sandbox.</summary>
    public required IReadOnlyList<MemoryRegionInfo> Memory { get; init; }

    /// <summary>Gets every record of what the device does (register accesses, memory, backend I/O, completions), or null.</summary>
    public ITraceSink? Observer { get; init; }

    /// <summary>Puts guest bytes in place before the device reads them, or null.</summary>
    public GuestReadFeeder? Feeder { get; init; }
}
