// Member names are the specification's own; the type documentation cites the section that defines them.
#pragma warning disable CS1591

namespace VirtioScope.Guest.Rings;

/// <summary>Descriptor and ring flag bits (VirtIO 1.2 sections 2.7.5, 2.7.6, 2.7.8, 2.8.1, 2.8.10).</summary>
public static class RingFlags
{
    public const ushort DescNext = 1;
    public const ushort DescWrite = 2;
    public const ushort DescIndirect = 4;

    /// <summary>Packed descriptor: available flag (bit 7).</summary>
    public const ushort PackedAvail = 1 << 7;

    /// <summary>Packed descriptor: used flag (bit 15).</summary>
    public const ushort PackedUsed = 1 << 15;

    /// <summary>Split avail ring flags: the driver does not want interrupts.</summary>
    public const ushort AvailNoInterrupt = 1;

    /// <summary>Split used ring flags: the device does not want notifications.</summary>
    public const ushort UsedNoNotify = 1;

    /// <summary>Packed event suppression: notifications/interrupts enabled.</summary>
    public const ushort EventEnable = 0;

    /// <summary>Packed event suppression: disabled.</summary>
    public const ushort EventDisable = 1;

    /// <summary>Packed event suppression: only at the descriptor given by off_wrap (needs EVENT_IDX).</summary>
    public const ushort EventDesc = 2;

    /// <summary>Bytes of one descriptor, split or packed.</summary>
    public const int DescriptorSize = 16;

    /// <summary>
    /// vring_need_event (section 2.7.10): whether moving an index from <paramref name="oldIdx"/> to
    /// <paramref name="newIdx"/> crossed <paramref name="eventIdx"/>, all modulo 2^16.
    /// </summary>
    public static bool NeedEvent(ushort eventIdx, ushort newIdx, ushort oldIdx) =>
        (ushort)(newIdx - eventIdx - 1) < (ushort)(newIdx - oldIdx);
}
