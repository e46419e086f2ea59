using VirtioScope.Block;
using VirtioScope.Virtio;

namespace VirtioScope.Debugger;

/// <summary>Names for status bits and feature bits.</summary>
public static class Decode
{
    private static readonly (ulong Bit, string Name)[] FeatureTable =
    [
        (BlkFeatures.SizeMax, "SIZE_MAX"), (BlkFeatures.SegMax, "SEG_MAX"), (BlkFeatures.Geometry, "GEOMETRY"),
        (BlkFeatures.ReadOnly, "RO"), (BlkFeatures.BlkSize, "BLK_SIZE"), (BlkFeatures.Flush, "FLUSH"),
        (BlkFeatures.Topology, "TOPOLOGY"), (BlkFeatures.ConfigWce, "CONFIG_WCE"), (BlkFeatures.Mq, "MQ"),
        (BlkFeatures.Discard, "DISCARD"), (BlkFeatures.WriteZeroes, "WRITE_ZEROES"),
        (VirtioFeatures.RingIndirectDesc, "RING_INDIRECT_DESC"), (VirtioFeatures.RingEventIdx, "RING_EVENT_IDX"),
        (VirtioFeatures.Version1, "VERSION_1"), (VirtioFeatures.AccessPlatform, "ACCESS_PLATFORM"),
        (VirtioFeatures.RingPacked, "RING_PACKED"), (VirtioFeatures.InOrder, "IN_ORDER"),
        (VirtioFeatures.OrderPlatform, "ORDER_PLATFORM"), (VirtioFeatures.NotificationData, "NOTIFICATION_DATA"),
        (VirtioFeatures.RingReset, "RING_RESET"),
    ];

    /// <summary>Status bits by name, e.g. <c>ACKNOWLEDGE|DRIVER</c>; <c>0 (reset)</c> for zero.</summary>
    public static string Status(byte status)
    {
        if (status == 0)
        {
            return "0 (reset)";
        }
        var names = new List<string>();
        AddIf(names, status, DeviceStatus.Acknowledge, "ACKNOWLEDGE");
        AddIf(names, status, DeviceStatus.Driver, "DRIVER");
        AddIf(names, status, DeviceStatus.FeaturesOk, "FEATURES_OK");
        AddIf(names, status, DeviceStatus.DriverOk, "DRIVER_OK");
        AddIf(names, status, DeviceStatus.DeviceNeedsReset, "DEVICE_NEEDS_RESET");
        AddIf(names, status, DeviceStatus.Failed, "FAILED");
        int rest = status & ~(int)(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk | DeviceStatus.DriverOk
            | DeviceStatus.DeviceNeedsReset | DeviceStatus.Failed);
        if (rest != 0)
        {
            names.Add($"0x{rest:x2}");
        }
        return string.Join('|', names);
    }

    /// <summary>Feature bits by name, unknown bits as <c>bit N</c>; <c>none</c> for zero.</summary>
    public static string Features(ulong features)
    {
        if (features == 0)
        {
            return "none";
        }
        var names = new List<string>();
        ulong known = 0;
        foreach ((ulong bit, string name) in FeatureTable)
        {
            known |= bit;
            if ((features & bit) != 0)
            {
                names.Add(name);
            }
        }
        for (int i = 0; i < 64; i++)
        {
            if ((features & ~known & (1UL << i)) != 0)
            {
                names.Add($"bit {i}");
            }
        }
        return string.Join(' ', names);
    }

    private static void AddIf(List<string> names, byte status, DeviceStatus bit, string name)
    {
        if ((status & (byte)bit) != 0)
        {
            names.Add(name);
        }
    }
}
