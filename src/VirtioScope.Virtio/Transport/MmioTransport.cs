using System.Buffers.Binary;
using VirtioScope.Memory;
using VirtioScope.Virtio.Events;
using VirtioScope.Virtio.Queues;

namespace VirtioScope.Virtio.Transport;

/// <summary>
/// The virtio-mmio transport (VirtIO 1.2 section 4.2): the register window, the device status state machine,
/// feature negotiation and queue set-up, in version 2 or legacy version 1 layout. Guest mistakes are reported as
/// faults and ignored; nothing a guest writes makes <see cref="Read"/> or <see cref="Write"/> throw.
/// </summary>
public sealed partial class MmioTransport : IMmioDevice, IDeviceContext
{
    private readonly IVirtioDevice _device;
    private readonly QueueRegisters[] _queues;
    private readonly ulong _offered;
    private DeviceStatus _status;
    private uint _deviceFeaturesSel;
    private uint _driverFeaturesSel;
    private ulong _driverFeatures;
    private uint _queueSel;
    private uint _shmSel;
    private uint _guestPageSize;
    private uint _queueAlign = 4096;
    private uint _interruptStatus;
    private uint _configGeneration;
    private int _depth;
    private bool _pendingInterrupt;

    /// <summary>Connects a device to guest memory through a register window.</summary>
    public MmioTransport(IVirtioDevice device, GuestMemory memory, MmioTransportOptions? options = null, EventHub? events = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(memory);
        _device = device;
        Memory = memory;
        Options = options ?? new MmioTransportOptions();
        Events = events ?? new EventHub();
        _queues = new QueueRegisters[device.QueueCount];
        for (int i = 0; i < _queues.Length; i++)
        {
            _queues[i] = new QueueRegisters();
        }
        // A legacy device has no way to express feature bits from 32 up (VERSION_1, RING_PACKED, RING_RESET).
        _offered = Options.Version == MmioVersion.Legacy ? device.OfferedFeatures & 0xffff_ffffUL : device.OfferedFeatures | VirtioFeatures.Version1;
    }

    /// <summary>How the transport was set up.</summary>
    public MmioTransportOptions Options { get; }

    /// <inheritdoc />
    public GuestMemory Memory { get; }

    /// <inheritdoc />
    public EventHub Events { get; }

    /// <summary>Counters.</summary>
    public TransportStatistics Statistics { get; } = new();

    /// <summary>The interrupt line: called once per raised interrupt, after the register access that caused it finished.</summary>
    public Action? InterruptRaised { get; set; }

    /// <summary>Whether the (level-triggered) interrupt line is asserted.</summary>
    public bool InterruptLevel => _interruptStatus != 0;

    /// <summary>Current device status.</summary>
    public DeviceStatus Status => _status;

    /// <summary>Features offered through the DeviceFeatures register.</summary>
    public ulong OfferedFeatures => _offered;

    /// <summary>Features the driver has written so far.</summary>
    public ulong DriverFeatures => _driverFeatures;

    /// <inheritdoc />
    public ulong NegotiatedFeatures => _driverFeatures & _offered;

    /// <summary>InterruptStatus register value.</summary>
    public uint InterruptStatus => _interruptStatus;

    /// <summary>ConfigGeneration register value.</summary>
    public uint ConfigGeneration => _configGeneration;

    /// <summary>Currently selected queue.</summary>
    public uint QueueSelect => _queueSel;

    /// <summary>Number of queues.</summary>
    public int QueueCount => _queues.Length;

    /// <inheritdoc />
    public VirtQueue? Queue(int index) => (uint)index < (uint)_queues.Length ? _queues[index].Live : null;

    /// <summary>Registers and state of a queue.</summary>
    public QueueInfo GetQueueInfo(int index)
    {
        QueueRegisters q = _queues[index];
        return new QueueInfo(index, q.Num, _device.MaxQueueSize, q.Ready, q.Desc, q.Driver, q.Device, q.Pfn, q.Live);
    }

    /// <summary>Bumps ConfigGeneration and raises a configuration-change interrupt (e.g. after a capacity change).</summary>
    public void NotifyConfigChanged()
    {
        _configGeneration++;
        RaiseInterrupt(MmioRegisters.InterruptConfigChange, queue: -1);
    }

    /// <inheritdoc />
    public uint Read(ulong offset, int width)
    {
        _depth++;
        uint value = 0;
        try
        {
            value = ReadCore(offset, width);
        }
        finally
        {
            LeaveAccess();
        }
        if (Events.Enabled)
        {
            Events.Publish(new MmioAccessEvent((int)Math.Min(offset, int.MaxValue), width, value, IsWrite: false));
        }
        return value;
    }

    /// <inheritdoc />
    public void Write(ulong offset, int width, uint value)
    {
        if (Events.Enabled)
        {
            Events.Publish(new MmioAccessEvent((int)Math.Min(offset, int.MaxValue), width, value, IsWrite: true));
        }
        _depth++;
        try
        {
            WriteCore(offset, width, value);
        }
        finally
        {
            LeaveAccess();
        }
    }

    private void LeaveAccess()
    {
        if (--_depth == 0 && _pendingInterrupt)
        {
            _pendingInterrupt = false;
            InterruptRaised?.Invoke();
        }
    }

    private uint ReadCore(ulong offset, int width)
    {
        if (!InsideWindow(offset, width, "read"))
        {
            return 0;
        }
        if (offset >= MmioRegisters.Config)
        {
            return ReadConfig(offset - MmioRegisters.Config, width);
        }
        if (!CheckRegisterAccess(offset, width, "read"))
        {
            return 0;
        }
        bool legacy = Options.Version == MmioVersion.Legacy;
        QueueRegisters? q = _queueSel < _queues.Length ? _queues[_queueSel] : null;
        switch ((int)offset)
        {
            case MmioRegisters.MagicValue: return MmioRegisters.Magic;
            case MmioRegisters.Version: return (uint)Options.Version;
            case MmioRegisters.DeviceId: return _device.DeviceId;
            case MmioRegisters.VendorId: return Options.VendorId;
            case MmioRegisters.DeviceFeatures: return _deviceFeaturesSel < 2 ? (uint)(_offered >> (int)(32 * _deviceFeaturesSel)) : 0;
            case MmioRegisters.QueueNumMax: return q is null ? 0u : _device.MaxQueueSize;
            case MmioRegisters.QueuePfn when legacy: return q?.Pfn ?? 0;
            case MmioRegisters.QueueReady when !legacy: return q is { Ready: true } ? 1u : 0u;
            case MmioRegisters.InterruptStatus: return _interruptStatus;
            case MmioRegisters.Status: return (uint)_status;
            case MmioRegisters.ShmLenLow or MmioRegisters.ShmLenHigh or MmioRegisters.ShmBaseLow or MmioRegisters.ShmBaseHigh when !legacy:
                // No shared memory regions: every selector reads as length and base ~0 (spec 4.2.2).
                return uint.MaxValue;
            case MmioRegisters.QueueReset when !legacy:
                // Resets complete synchronously, so the register never reads as in progress.
                return 0;
            case MmioRegisters.ConfigGeneration when !legacy: return _configGeneration;
            default:
                Fault($"read of {(IsWriteOnly((int)offset) ? "write-only register" : "unknown register")} {MmioRegisters.Name((int)offset)}");
                return 0;
        }
    }

    /// <summary>Accesses past the configured window size belong to no register, not even config space.</summary>
    private bool InsideWindow(ulong offset, int width, string what)
    {
        if (offset < Options.WindowSize && (ulong)Math.Max(width, 0) <= Options.WindowSize - offset)
        {
            return true;
        }
        Fault($"{width}-byte {what} at offset 0x{offset:x} is outside the 0x{Options.WindowSize:x}-byte register window");
        return false;
    }

    private static bool IsWriteOnly(int offset) => offset is MmioRegisters.DeviceFeaturesSel or MmioRegisters.DriverFeatures
        or MmioRegisters.DriverFeaturesSel or MmioRegisters.GuestPageSize or MmioRegisters.QueueSel or MmioRegisters.QueueNum
        or MmioRegisters.QueueAlign or MmioRegisters.QueueNotify or MmioRegisters.InterruptAck or MmioRegisters.QueueDescLow
        or MmioRegisters.QueueDescHigh or MmioRegisters.QueueDriverLow or MmioRegisters.QueueDriverHigh
        or MmioRegisters.QueueDeviceLow or MmioRegisters.QueueDeviceHigh or MmioRegisters.ShmSel;

    private bool CheckRegisterAccess(ulong offset, int width, string what)
    {
        // Control registers take 32-bit aligned accesses only (spec 4.2.2.2).
        if (width != 4 || offset % 4 != 0 || offset >= MmioRegisters.Config)
        {
            Fault($"{width}-byte {what} at register offset 0x{offset:x}: control registers need aligned 32-bit access");
            return false;
        }
        return true;
    }

    private uint ReadConfig(ulong configOffset, int width)
    {
        if (!CheckConfigAccess(configOffset, width, "read"))
        {
            return 0;
        }
        Span<byte> buffer = stackalloc byte[4];
        buffer.Clear();
        _device.ReadConfig((int)configOffset, buffer[..width]);
        return BinaryPrimitives.ReadUInt32LittleEndian(buffer);
    }

    private bool CheckConfigAccess(ulong configOffset, int width, string what)
    {
        bool widthOk = width is 1 or 2 or 4;
        // Version 2 wants natural alignment; legacy drivers may use any width anywhere.
        bool aligned = Options.Version == MmioVersion.Legacy || (widthOk && configOffset % (ulong)width == 0);
        if (!widthOk || !aligned || configOffset + (ulong)width > (ulong)_device.ConfigLength)
        {
            Fault($"{width}-byte config {what} at config offset 0x{configOffset:x} (config space is {_device.ConfigLength} bytes)");
            return false;
        }
        return true;
    }

    /// <summary>Records a driver mistake: counted always, published to listeners.</summary>
    private void Fault(string message)
    {
        Statistics.Faults++;
        Events.Fault(message);
    }
}
