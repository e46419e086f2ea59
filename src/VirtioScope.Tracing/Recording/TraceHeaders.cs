using VirtioScope.Block;
using VirtioScope.Memory;
using VirtioScope.Tracing.Format;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Tracing.Recording;

/// <summary>Builds the header of a recording from the objects being recorded.</summary>
public static class TraceHeaders
{
    /// <summary>Describes a block device on a transport over a sandbox and a backend.</summary>
    public static TraceHeader Describe(BlockDeviceOptions device, MmioTransport transport, GuestMemory memory, BackendInfo backend, bool fullData, string? description)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(memory);
        return new TraceHeader
        {
            Source = "virtioscope",
            Replayable = true,
            FullData = fullData,
            MmioVersion = (int)transport.Options.Version,
            TransportBase = transport.Options.BaseAddress,
            WindowSize = transport.Options.WindowSize,
            VendorId = transport.Options.VendorId,
            DeviceId = 2,
            OfferedFeatures = transport.OfferedFeatures,
            Device = device,
            Memory = [.. memory.Regions.Select(r => new MemoryRegionInfo(r.GuestBase, r.Size))],
            Backend = backend,
            Description = description,
        };
    }
}
