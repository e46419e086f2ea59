using VirtioScope.Tracing.Format;
using VirtioScope.Virtio;

namespace VirtioScope.Tracing.Analysis;

/// <summary>
/// Checks the driver's side of a trace against the VirtIO rules for virtio-mmio drivers (see <see cref="LintRules"/>).
/// Works on register-level traces (imported QEMU logs) as well as recordings: it looks only at register accesses,
/// QueueLimit records and the header's MMIO version.
/// </summary>
public sealed class TraceLinter
{
    /// <summary>Config-space offsets of the 64-bit virtio-blk capacity field's two halves.</summary>
    private const int CapacityLow = MmioRegisters.Config;
    private const int CapacityHigh = MmioRegisters.Config + 4;
    private const int BlockDeviceId = 2;

    private readonly bool _legacy;
    private readonly bool _blockDevice;
    private readonly List<LintViolation> _violations = [];
    private byte _status;
    private ulong _driverFeatures;
    private uint _driverFeaturesSel;
    private uint _queueSel;
    private readonly Dictionary<uint, ulong> _queueNumMax = [];
    private readonly HashSet<uint> _queuesReset = [];
    private bool _generationOpen;
    private bool _generationOwed;
    private long _owedSince;

    private TraceLinter(TraceHeader header)
    {
        _legacy = header.MmioVersion == 1;
        _blockDevice = header.DeviceId == BlockDeviceId;
    }

    /// <summary>Lints a whole trace.</summary>
    public static IReadOnlyList<LintViolation> Lint(TraceReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var linter = new TraceLinter(reader.Header);
        foreach (TraceEvent e in reader.Events())
        {
            linter.Visit(e);
        }
        return linter._violations;
    }

    private bool DriverOk => (_status & (byte)DeviceStatus.DriverOk) != 0;

    private bool FeaturesOk => (_status & (byte)DeviceStatus.FeaturesOk) != 0;

    private void Visit(in TraceEvent e)
    {
        switch (e.Kind)
        {
            case RecordKind.MmioWrite:
                Generation(e, isConfig: false, isGeneration: false);
                Write(e.Number, (int)e.Address, (uint)e.Value);
                break;
            case RecordKind.MmioRead or RecordKind.MmioReadUnvalued:
                Read(e);
                break;
            case RecordKind.QueueLimit:
                _queueNumMax[_queueSel] = (ulong)e.Length;
                if (e.Value > (ulong)e.Length)
                {
                    Add(e.Number, LintRules.QueueNumAboveMax, $"queue {_queueSel}: QueueNum {e.Value} exceeds QueueNumMax {e.Length}");
                }
                break;
            default:
                break;
        }
    }

    private void Read(in TraceEvent e)
    {
        int offset = (int)e.Address;
        bool isConfig = offset >= MmioRegisters.Config;
        Generation(e, isConfig, offset == MmioRegisters.ConfigGeneration);
        if (!isConfig && IsWriteOnly(offset))
        {
            Add(e.Number, LintRules.ReadOfWriteOnly, $"read of write-only register {MmioRegisters.Name(offset)}");
        }
        if (offset == MmioRegisters.QueueNumMax && e.Kind == RecordKind.MmioRead)
        {
            _queueNumMax[_queueSel] = e.Value;
        }
    }

    private void Generation(in TraceEvent e, bool isConfig, bool isGeneration)
    {
        if (_legacy || !_blockDevice)
        {
            return;
        }
        if (isGeneration)
        {
            _generationOpen = true;
            _generationOwed = false;
            return;
        }
        if (isConfig)
        {
            int offset = (int)e.Address;
            bool capacityHalf = (e.Length is 4 or 0) && (offset is CapacityLow or CapacityHigh);
            if (capacityHalf)
            {
                if (!_generationOpen)
                {
                    Add(e.Number, LintRules.ConfigGeneration, "64-bit config field (capacity) read without reading ConfigGeneration first");
                    _generationOpen = true;
                }
                if (!_generationOwed)
                {
                    _owedSince = e.Number;
                }
                _generationOwed = true;
            }
            return;
        }
        if (_generationOwed)
        {
            Add(e.Number, LintRules.ConfigGeneration, $"64-bit config field read at #{_owedSince} not followed by a ConfigGeneration re-read");
            _generationOwed = false;
        }
        _generationOpen = false;
    }

    private void Write(long number, int offset, uint value)
    {
        switch (offset)
        {
            case MmioRegisters.Status:
                WriteStatus(number, (byte)value);
                break;
            case MmioRegisters.DriverFeatures or MmioRegisters.DriverFeaturesSel:
                if (_legacy ? DriverOk : FeaturesOk)
                {
                    Add(number, LintRules.FeaturesAfterFeaturesOk, $"{MmioRegisters.Name(offset)} written after {(_legacy ? "DRIVER_OK" : "FEATURES_OK")}");
                }
                if (offset == MmioRegisters.DriverFeaturesSel)
                {
                    _driverFeaturesSel = value;
                }
                else if (_driverFeaturesSel < 2)
                {
                    int shift = 32 * (int)_driverFeaturesSel;
                    _driverFeatures = (_driverFeatures & ~(0xffff_ffffUL << shift)) | ((ulong)value << shift);
                }
                break;
            case MmioRegisters.QueueSel:
                _queueSel = value;
                break;
            case MmioRegisters.QueueReset when !_legacy:
                if (value == 1)
                {
                    _queuesReset.Add(_queueSel);
                }
                break;
            case MmioRegisters.QueueNum:
                QueueSetup(number, offset, value);
                CheckQueueNum(number, value);
                break;
            case MmioRegisters.QueueReady when !_legacy:
                if (value == 1)
                {
                    QueueSetup(number, offset, value);
                    _queuesReset.Remove(_queueSel);
                }
                break;
            case MmioRegisters.QueuePfn when _legacy:
                if (value != 0)
                {
                    QueueSetup(number, offset, value);
                }
                break;
            case MmioRegisters.QueueAlign or MmioRegisters.QueueDescLow or MmioRegisters.QueueDescHigh or MmioRegisters.QueueDriverLow
                or MmioRegisters.QueueDriverHigh or MmioRegisters.QueueDeviceLow or MmioRegisters.QueueDeviceHigh:
                QueueSetup(number, offset, value);
                break;
            case MmioRegisters.QueueNotify:
                if (!DriverOk)
                {
                    Add(number, LintRules.NotifyBeforeDriverOk, $"QueueNotify (queue {value}) before DRIVER_OK");
                }
                break;
            default:
                break;
        }
    }

    private void QueueSetup(long number, int offset, uint value)
    {
        if (DriverOk && !_queuesReset.Contains(_queueSel))
        {
            Add(number, LintRules.QueueSetupAfterDriverOk, $"queue {_queueSel}: {MmioRegisters.Name(offset)} <- 0x{value:x} after DRIVER_OK");
        }
    }

    private void CheckQueueNum(long number, uint value)
    {
        if (_queueNumMax.TryGetValue(_queueSel, out ulong max) && value > max)
        {
            Add(number, LintRules.QueueNumAboveMax, $"queue {_queueSel}: QueueNum {value} exceeds QueueNumMax {max}");
        }
        bool packed = !_legacy && (_driverFeatures & VirtioFeatures.RingPacked) != 0;
        if (!packed && value != 0 && (value & (value - 1)) != 0)
        {
            Add(number, LintRules.QueueNumNotPowerOfTwo, $"queue {_queueSel}: QueueNum {value} is not a power of two on a split ring");
        }
    }

    private void WriteStatus(long number, byte value)
    {
        if (value == 0)
        {
            _status = 0;
            _driverFeatures = 0;
            _queuesReset.Clear();
            return;
        }
        const byte failed = (byte)DeviceStatus.Failed;
        byte old = _status;
        byte added = (byte)(value & ~old);
        byte removed = (byte)(old & ~value & ~failed);
        if (removed != 0)
        {
            Add(number, LintRules.StatusOrder, $"Status <- 0x{value:x2} clears {(DeviceStatus)removed} without a reset");
        }
        bool has(byte v, DeviceStatus bit) => (v & (byte)bit) != 0;
        if (has(added, DeviceStatus.Driver) && !has(value, DeviceStatus.Acknowledge))
        {
            Add(number, LintRules.StatusOrder, "DRIVER set before ACKNOWLEDGE");
        }
        if (has(added, DeviceStatus.FeaturesOk) && !has(value, DeviceStatus.Driver))
        {
            Add(number, LintRules.StatusOrder, "FEATURES_OK set before DRIVER");
        }
        if (has(added, DeviceStatus.DriverOk))
        {
            if (!has(value, DeviceStatus.Driver))
            {
                Add(number, LintRules.StatusOrder, "DRIVER_OK set before DRIVER");
            }
            else if (!_legacy && !has(value, DeviceStatus.FeaturesOk))
            {
                Add(number, LintRules.StatusOrder, "DRIVER_OK set before FEATURES_OK");
            }
        }
        _status = value;
    }

    private static bool IsWriteOnly(int offset) => offset is MmioRegisters.DeviceFeaturesSel or MmioRegisters.DriverFeatures
        or MmioRegisters.DriverFeaturesSel or MmioRegisters.GuestPageSize or MmioRegisters.QueueSel or MmioRegisters.QueueNum
        or MmioRegisters.QueueAlign or MmioRegisters.QueueNotify or MmioRegisters.InterruptAck or MmioRegisters.QueueDescLow
        or MmioRegisters.QueueDescHigh or MmioRegisters.QueueDriverLow or MmioRegisters.QueueDriverHigh
        or MmioRegisters.QueueDeviceLow or MmioRegisters.QueueDeviceHigh or MmioRegisters.ShmSel;

    private void Add(long number, string rule, string message) => _violations.Add(new LintViolation(number, rule, message));
}
