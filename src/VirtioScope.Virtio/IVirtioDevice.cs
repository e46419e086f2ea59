using VirtioScope.Memory;
using VirtioScope.Virtio.Events;
using VirtioScope.Virtio.Queues;

namespace VirtioScope.Virtio;

/// <summary>
/// A virtio device type (block, ...) as a transport drives it. The transport owns registers, status and queue
/// set-up; the device owns its features, configuration space and request processing.
/// </summary>
public interface IVirtioDevice
{
    /// <summary>virtio device ID (2 for block).</summary>
    uint DeviceId { get; }

    /// <summary>Every feature bit the device offers, device-specific and ring/transport bits alike.</summary>
    ulong OfferedFeatures { get; }

    /// <summary>Number of virtqueues.</summary>
    int QueueCount { get; }

    /// <summary>Largest queue size the device accepts (QueueNumMax).</summary>
    ushort MaxQueueSize { get; }

    /// <summary>Bytes of device configuration space.</summary>
    int ConfigLength { get; }

    /// <summary>Copies configuration bytes at <paramref name="offset"/>; the range is inside <see cref="ConfigLength"/>.</summary>
    void ReadConfig(int offset, Span<byte> data);

    /// <summary>Handles a driver write to configuration space; read-only fields ignore it.</summary>
    void WriteConfig(int offset, ReadOnlySpan<byte> data);

    /// <summary>Whether the device can honour a set of accepted features (a subset of those offered); the reason when not.</summary>
    string? RefuseFeatures(ulong features);

    /// <summary>Called on DRIVER_OK with the negotiated features and live queues.</summary>
    void Activate(IDeviceContext context);

    /// <summary>The driver notified queue <paramref name="index"/>.</summary>
    void ProcessQueue(int index);

    /// <summary>The driver reset the device: forget negotiated state.</summary>
    void Reset();
}

/// <summary>What a transport gives an active device.</summary>
public interface IDeviceContext
{
    /// <summary>Features the driver accepted.</summary>
    ulong NegotiatedFeatures { get; }

    /// <summary>Guest memory as the device sees it.</summary>
    GuestMemory Memory { get; }

    /// <summary>The event stream.</summary>
    EventHub Events { get; }

    /// <summary>The live queue at <paramref name="index"/>, or null when the driver did not enable it.</summary>
    VirtQueue? Queue(int index);

    /// <summary>After used buffers were added: raise the used-buffer interrupt unless the driver suppressed it.</summary>
    void SignalUsed(int queue);

    /// <summary>Marks the device broken: DEVICE_NEEDS_RESET and a configuration-change interrupt.</summary>
    void RequestReset(string reason);
}
