using System.Globalization;
using VirtioScope.Tracing.Format;
using VirtioScope.Tracing.Replay;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Debugger.Sources;

/// <summary>
/// A recording as the guest: the device described by the trace's header is built fresh, the recorded register
/// accesses are driven through the session's gate, and the recorded guest memory is fed to the device as it reads
/// it, so the session steps forward and back through the recording with every view. What the device produces is
/// compared with the recording; the first difference shows in <see cref="Description"/>.
/// </summary>
public sealed class TraceGuestSource : IGuestActionSource
{
    private readonly string _name;
    private readonly RecordedGuest _guest;

    /// <summary>Prepares one execution of <paramref name="reader"/>'s recording (the reader stays the caller's).</summary>
    /// <exception cref="InvalidOperationException">The trace is register-level (imported) and cannot drive a device.</exception>
    public TraceGuestSource(TraceReader reader, string name)
    {
        ArgumentNullException.ThrowIfNull(reader);
        _name = name ?? throw new ArgumentNullException(nameof(name));
        _guest = new RecordedGuest(reader);
        TraceHeader h = reader.Header;
        Setup = new DeviceSetup
        {
            Device = h.Device!,
            Transport = new MmioTransportOptions
            {
                Version = (MmioVersion)h.MmioVersion,
                BaseAddress = h.TransportBase,
                WindowSize = h.WindowSize,
                VendorId = h.VendorId,
            },
            Memory = h.Memory,
            Observer = _guest.Sink,
            Feeder = _guest.Feeder,
        };
    }

    /// <summary>The session options a recording implies: its queues, register layout and backend.</summary>
    public static SessionOptions OptionsFor(TraceHeader header, string? imagePath)
    {
        ArgumentNullException.ThrowIfNull(header);
        return new SessionOptions
        {
            ImagePath = imagePath,
            MemoryBytes = header.Backend.VirtualSize,
            ReadOnly = header.Backend.ReadOnly,
            Queues = Math.Max(1, header.Device?.NumQueues ?? 1),
            Legacy = header.MmioVersion == (int)MmioVersion.Legacy,
            RecordedWorkload = header.Description ?? $"a recording from {header.Source}",
        };
    }

    /// <inheritdoc />
    public string Description
    {
        get
        {
            string where = string.Create(CultureInfo.InvariantCulture, $"trace {_name}: event {_guest.NextEvent} of {_guest.EventCount}");
            return _guest.Divergence is { } d
                ? string.Create(CultureInfo.InvariantCulture, $"{where}; the device differs from the recording from event #{d.EventNumber} ({d.Reason})")
                : where + "; identical to the recording so far";
        }
    }

    /// <inheritdoc />
    public DeviceSetup? Setup { get; }

    /// <inheritdoc />
    public void Run(GuestActionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        _guest.Run(context.Mmio);
    }
}
