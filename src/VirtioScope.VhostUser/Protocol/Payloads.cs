using System.Buffers.Binary;

namespace VirtioScope.VhostUser.Protocol;

/// <summary>A memory region as the front-end describes it (vhost-user "memory region description").</summary>
public readonly record struct RegionDescriptor(ulong GuestPhysAddr, ulong Size, ulong UserAddr, ulong MmapOffset)
{
    /// <summary>Bytes of one description on the wire.</summary>
    public const int WireSize = 32;

    /// <summary>Reads one description.</summary>
    public static RegionDescriptor Read(ReadOnlySpan<byte> raw) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(raw),
        BinaryPrimitives.ReadUInt64LittleEndian(raw[8..]),
        BinaryPrimitives.ReadUInt64LittleEndian(raw[16..]),
        BinaryPrimitives.ReadUInt64LittleEndian(raw[24..]));

    /// <summary>Writes one description.</summary>
    public void Write(Span<byte> raw)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(raw, GuestPhysAddr);
        BinaryPrimitives.WriteUInt64LittleEndian(raw[8..], Size);
        BinaryPrimitives.WriteUInt64LittleEndian(raw[16..], UserAddr);
        BinaryPrimitives.WriteUInt64LittleEndian(raw[24..], MmapOffset);
    }
}

/// <summary>The ring addresses of SET_VRING_ADDR: front-end virtual addresses, not guest-physical ones.</summary>
public readonly record struct VringAddresses(uint Index, uint Flags, ulong Descriptor, ulong Used, ulong Available, ulong Log)
{
    /// <summary>Bytes on the wire.</summary>
    public const int WireSize = 40;

    /// <summary>Reads the payload.</summary>
    public static VringAddresses Read(ReadOnlySpan<byte> raw) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(raw),
        BinaryPrimitives.ReadUInt32LittleEndian(raw[4..]),
        BinaryPrimitives.ReadUInt64LittleEndian(raw[8..]),
        BinaryPrimitives.ReadUInt64LittleEndian(raw[16..]),
        BinaryPrimitives.ReadUInt64LittleEndian(raw[24..]),
        BinaryPrimitives.ReadUInt64LittleEndian(raw[32..]));
}

/// <summary>Encodings of vring state numbers.</summary>
public static class VringBase
{
    /// <summary>
    /// Packed rings pack both positions into one number: bits 0-14 next avail slot, bit 15 its wrap counter, bits
    /// 16-30 next used slot, bit 31 its wrap counter (as QEMU sends and expects them). Split rings use the avail index.
    /// </summary>
    public static uint Encode(Virtio.Queues.RingPosition p, bool packed) => packed
        ? (uint)(p.NextAvail & 0x7fff) | (p.AvailWrap ? 0x8000u : 0) | ((uint)(p.NextUsed & 0x7fff) << 16) | (p.UsedWrap ? 0x8000_0000u : 0)
        : p.NextAvail;

    /// <summary>The inverse of <see cref="Encode"/>; for split rings the used index is filled in later from the ring.</summary>
    public static Virtio.Queues.RingPosition Decode(uint num, bool packed) => packed
        ? new((ushort)(num & 0x7fff), (num & 0x8000) != 0, (ushort)((num >> 16) & 0x7fff), (num & 0x8000_0000) != 0)
        : new((ushort)num, true, (ushort)num, true);
}
