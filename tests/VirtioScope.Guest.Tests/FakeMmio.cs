using System.Buffers.Binary;
using VirtioScope.Block;
using VirtioScope.Virtio;

namespace VirtioScope.Guest.Tests;

/// <summary>
/// A scripted virtio-mmio register block for driver unit tests: fixed identity and feature registers, a config
/// space byte array, a Status register that can refuse FEATURES_OK, and a ConfigGeneration that can be told to change
/// during the next config reads. Every access is logged.
/// </summary>
internal sealed class FakeMmio : IMmioDevice
{
    public uint Magic { get; set; } = MmioRegisters.Magic;
    public uint Version { get; set; } = 2;
    public uint DeviceId { get; set; } = BlkLayout.DeviceId;
    public ulong Features { get; set; } = VirtioFeatures.Version1 | BlkFeatures.Flush | BlkFeatures.SegMax;
    public uint QueueNumMax { get; set; } = 256;
    public bool RefuseFeaturesOk { get; set; }
    public byte[] Config { get; } = new byte[BlkConfigOffsets.Length];
    public uint Generation { get; set; }

    /// <summary>ConfigGeneration changes on each of the next N config-space reads (a device updating config while the driver reads).</summary>
    public int ChangeGenerationOnNextConfigReads { get; set; }

    /// <summary>After this many config reads, a new capacity is installed (with a generation bump).</summary>
    public ulong? CapacityAfterChange { get; set; }

    public List<(bool Write, ulong Offset, int Width, uint Value)> Log { get; } = [];
    public List<uint> StatusWrites { get; } = [];
    public Dictionary<ulong, uint> LastWrite { get; } = [];
    public ulong DriverFeatures { get; private set; }

    private uint _status;
    private uint _featSel;
    private uint _drvSel;

    public uint Read(ulong offset, int width)
    {
        uint v = ReadCore(offset, width);
        Log.Add((false, offset, width, v));
        return v;
    }

    public void Write(ulong offset, int width, uint value)
    {
        Log.Add((true, offset, width, value));
        LastWrite[offset] = value;
        switch (offset)
        {
            case MmioRegisters.Status:
                StatusWrites.Add(value);
                _status = value;
                if (RefuseFeaturesOk)
                {
                    _status &= ~(uint)DeviceStatus.FeaturesOk;
                }
                break;
            case MmioRegisters.DeviceFeaturesSel:
                _featSel = value;
                break;
            case MmioRegisters.DriverFeaturesSel:
                _drvSel = value;
                break;
            case MmioRegisters.DriverFeatures:
                DriverFeatures = _drvSel == 0 ? (DriverFeatures & ~0xffff_ffffUL) | value : (DriverFeatures & 0xffff_ffffUL) | ((ulong)value << 32);
                break;
            default:
                break;
        }
    }

    public int ConfigReads { get; private set; }

    private uint ReadCore(ulong offset, int width)
    {
        if (offset >= MmioRegisters.Config)
        {
            int at = (int)(offset - MmioRegisters.Config);
            uint v = width switch
            {
                1 => Config[at],
                2 => BinaryPrimitives.ReadUInt16LittleEndian(Config.AsSpan(at)),
                _ => BinaryPrimitives.ReadUInt32LittleEndian(Config.AsSpan(at)),
            };
            ConfigReads++;
            if (ChangeGenerationOnNextConfigReads > 0)
            {
                ChangeGenerationOnNextConfigReads--;
                Generation++;
                if (CapacityAfterChange is { } cap)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(Config, cap);
                }
            }
            return v;
        }
        return offset switch
        {
            MmioRegisters.MagicValue => Magic,
            MmioRegisters.Version => Version,
            MmioRegisters.DeviceId => DeviceId,
            MmioRegisters.DeviceFeatures => (uint)(Features >> (_featSel == 0 ? 0 : 32)),
            MmioRegisters.QueueNumMax => QueueNumMax,
            MmioRegisters.Status => _status,
            MmioRegisters.ConfigGeneration => Generation,
            _ => 0,
        };
    }
}
