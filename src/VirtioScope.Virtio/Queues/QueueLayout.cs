namespace VirtioScope.Virtio.Queues;

/// <summary>Which virtqueue format a queue uses.</summary>
public enum RingFormat
{
    /// <summary>Split virtqueue (VirtIO 1.2 section 2.7).</summary>
    Split,

    /// <summary>Packed virtqueue (section 2.8), with VIRTIO_F_RING_PACKED.</summary>
    Packed,
}

/// <summary>Where a queue's three areas live and how big it is: what the driver programmed through the transport.</summary>
public readonly record struct QueueLayout(RingFormat Format, ushort Size, ulong DescTable, ulong DriverArea, ulong DeviceArea)
{
    /// <summary>Largest queue size either format allows.</summary>
    public const int MaxSize = 32768;

    /// <summary>Bytes of the descriptor table.</summary>
    public ulong DescTableBytes => (ulong)Size * Descriptor.Size;

    /// <summary>Bytes of the driver area (split: available ring with used_event; packed: event suppression).</summary>
    public ulong DriverAreaBytes => Format == RingFormat.Split ? 6UL + 2UL * Size : 4;

    /// <summary>Bytes of the device area (split: used ring with avail_event; packed: event suppression).</summary>
    public ulong DeviceAreaBytes => Format == RingFormat.Split ? 6UL + 8UL * Size : 4;

    /// <summary>
    /// The legacy (virtio-mmio version 1) contiguous layout: descriptor table at <paramref name="pfn"/> pages, the
    /// available ring right after it, the used ring at the next <paramref name="align"/> boundary (spec 2.7.2, 4.2.4).
    /// </summary>
    public static QueueLayout Legacy(ushort size, ulong pfn, uint pageSize, uint align)
    {
        ulong desc = pfn * pageSize;
        ulong avail = desc + 16UL * size;
        ulong availEnd = avail + 6UL + 2UL * size;
        ulong alignment = Math.Max(align, 1u);
        ulong used = (availEnd + alignment - 1) / alignment * alignment;
        return new QueueLayout(RingFormat.Split, size, desc, avail, used);
    }

    /// <summary>Checks size, alignment, containment in guest memory and non-overlap, as a device must before use.</summary>
    public QueueError Validate(Memory.GuestMemory memory, int maxSize)
    {
        if (Size == 0 || Size > maxSize || Size > MaxSize || (Format == RingFormat.Split && (Size & (Size - 1)) != 0))
        {
            return QueueError.BadSize;
        }
        ulong driverAlign = Format == RingFormat.Split ? 2UL : 4UL;
        if (DescTable % 16 != 0 || DriverArea % driverAlign != 0 || DeviceArea % 4 != 0)
        {
            return QueueError.Misaligned;
        }
        if (!memory.IsValidRange(DescTable, DescTableBytes) || !memory.IsValidRange(DriverArea, DriverAreaBytes)
            || !memory.IsValidRange(DeviceArea, DeviceAreaBytes))
        {
            return QueueError.RingOutsideMemory;
        }
        if (Overlaps(DescTable, DescTableBytes, DriverArea, DriverAreaBytes)
            || Overlaps(DescTable, DescTableBytes, DeviceArea, DeviceAreaBytes)
            || Overlaps(DriverArea, DriverAreaBytes, DeviceArea, DeviceAreaBytes))
        {
            return QueueError.Overlap;
        }
        return QueueError.None;
    }

    private static bool Overlaps(ulong a, ulong aLen, ulong b, ulong bLen) => a < b + bLen && b < a + aLen;
}
