// Member names are the specification's own; the type documentation cites the section that defines them.
#pragma warning disable CS1591

namespace VirtioScope.Virtio;

/// <summary>Offsets of the virtio-mmio register block (VirtIO 1.2 section 4.2.2, legacy 4.2.4).</summary>
public static class MmioRegisters
{
    /// <summary>0x74726976, "virt" in little-endian.</summary>
    public const uint Magic = 0x7472_6976;

    /// <summary>Default base address of the device's register window.</summary>
    public const ulong DefaultBase = 0x0a00_0000;

    /// <summary>Default size of the register window.</summary>
    public const ulong DefaultSize = 0x200;

    public const int MagicValue = 0x000;
    public const int Version = 0x004;
    public const int DeviceId = 0x008;
    public const int VendorId = 0x00c;
    public const int DeviceFeatures = 0x010;
    public const int DeviceFeaturesSel = 0x014;
    public const int DriverFeatures = 0x020;
    public const int DriverFeaturesSel = 0x024;
    /// <summary>Legacy only.</summary>
    public const int GuestPageSize = 0x028;
    public const int QueueSel = 0x030;
    public const int QueueNumMax = 0x034;
    public const int QueueNum = 0x038;
    /// <summary>Legacy only.</summary>
    public const int QueueAlign = 0x03c;
    /// <summary>Legacy only.</summary>
    public const int QueuePfn = 0x040;
    /// <summary>Version 2 only.</summary>
    public const int QueueReady = 0x044;
    public const int QueueNotify = 0x050;
    public const int InterruptStatus = 0x060;
    public const int InterruptAck = 0x064;
    public const int Status = 0x070;
    public const int QueueDescLow = 0x080;
    public const int QueueDescHigh = 0x084;
    public const int QueueDriverLow = 0x090;
    public const int QueueDriverHigh = 0x094;
    public const int QueueDeviceLow = 0x0a0;
    public const int QueueDeviceHigh = 0x0a4;
    public const int ShmSel = 0x0ac;
    public const int ShmLenLow = 0x0b0;
    public const int ShmLenHigh = 0x0b4;
    public const int ShmBaseLow = 0x0b8;
    public const int ShmBaseHigh = 0x0bc;
    public const int QueueReset = 0x0c0;
    public const int ConfigGeneration = 0x0fc;
    /// <summary>Device-specific configuration space starts here.</summary>
    public const int Config = 0x100;

    /// <summary>InterruptStatus bit: the device used a buffer.</summary>
    public const uint InterruptUsedBuffer = 1;

    /// <summary>InterruptStatus bit: the configuration changed (also raised with DEVICE_NEEDS_RESET).</summary>
    public const uint InterruptConfigChange = 2;

    /// <summary>Human name of a register offset, for logs and the debugger.</summary>
    public static string Name(int offset) => offset switch
    {
        MagicValue => "MagicValue",
        Version => "Version",
        DeviceId => "DeviceID",
        VendorId => "VendorID",
        DeviceFeatures => "DeviceFeatures",
        DeviceFeaturesSel => "DeviceFeaturesSel",
        DriverFeatures => "DriverFeatures",
        DriverFeaturesSel => "DriverFeaturesSel",
        GuestPageSize => "GuestPageSize",
        QueueSel => "QueueSel",
        QueueNumMax => "QueueNumMax",
        QueueNum => "QueueNum",
        QueueAlign => "QueueAlign",
        QueuePfn => "QueuePFN",
        QueueReady => "QueueReady",
        QueueNotify => "QueueNotify",
        InterruptStatus => "InterruptStatus",
        InterruptAck => "InterruptACK",
        Status => "Status",
        QueueDescLow => "QueueDescLow",
        QueueDescHigh => "QueueDescHigh",
        QueueDriverLow => "QueueDriverLow",
        QueueDriverHigh => "QueueDriverHigh",
        QueueDeviceLow => "QueueDeviceLow",
        QueueDeviceHigh => "QueueDeviceHigh",
        ShmSel => "SHMSel",
        ShmLenLow => "SHMLenLow",
        ShmLenHigh => "SHMLenHigh",
        ShmBaseLow => "SHMBaseLow",
        ShmBaseHigh => "SHMBaseHigh",
        QueueReset => "QueueReset",
        ConfigGeneration => "ConfigGeneration",
        >= Config => $"Config+0x{offset - Config:x}",
        _ => $"0x{offset:x3}",
    };
}
