using VirtioScope.Memory;
using VirtioScope.Virtio.Queues;

namespace VirtioScope.VhostDebug;

/// <summary>Whether a ring holds a request the device has not taken yet, read without taking it.</summary>
internal static class RingPeek
{
    private const ushort PackedAvail = 1 << 7;
    private const ushort PackedUsed = 1 << 15;

    public static bool HasAvailable(VirtQueue queue, GuestMemory memory)
    {
        QueueLayout l = queue.Layout;
        if (l.Format == RingFormat.Split)
        {
            // The driver's avail idx (VirtIO 1.2 2.7.6) has moved past the device's next slot.
            return memory.TryRead(l.DriverArea + 2, stackalloc byte[2]) is null && memory.ReadU16(l.DriverArea + 2) != queue.NextAvail;
        }
        // Packed (2.8.1): the next descriptor is available when its AVAIL bit equals the device's wrap counter and its
        // USED bit does not.
        RingPosition p = queue.Position;
        ulong flagsAt = l.DescTable + ((ulong)p.NextAvail * Descriptor.Size) + 14;
        if (memory.TryRead(flagsAt, stackalloc byte[2]) is not null)
        {
            return false;
        }
        ushort flags = memory.ReadU16(flagsAt);
        bool avail = (flags & PackedAvail) != 0;
        bool used = (flags & PackedUsed) != 0;
        return avail == p.AvailWrap && used != p.AvailWrap;
    }
}
