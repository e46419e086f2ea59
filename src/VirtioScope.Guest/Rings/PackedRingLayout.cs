namespace VirtioScope.Guest.Rings;

/// <summary>
/// Sizes of a packed virtqueue (VIRTIO 1.2 section 2.8): a descriptor ring of 16-byte entries (align 16) and two
/// 4-byte event suppression structures (align 4): le16 off_wrap (offset in bits 0..14, wrap counter in bit 15) then
/// le16 flags. The driver area holds the driver's structure, the device area the device's.
/// </summary>
public readonly record struct PackedRingLayout(int QueueSize)
{
    /// <summary>Bytes of the descriptor ring.</summary>
    public int DescriptorRingBytes => RingFlags.DescriptorSize * QueueSize;

    /// <summary>Bytes of one event suppression structure.</summary>
    public const int EventSuppressionBytes = 4;

    /// <summary>Offset of addr in a descriptor.</summary>
    public const int AddrOffset = 0;

    /// <summary>Offset of len in a descriptor.</summary>
    public const int LenOffset = 8;

    /// <summary>Offset of the buffer id in a descriptor.</summary>
    public const int IdOffset = 12;

    /// <summary>Offset of flags in a descriptor.</summary>
    public const int FlagsOffset = 14;

    /// <summary>Encodes an event suppression off_wrap field.</summary>
    public static ushort OffWrap(int offset, bool wrapCounter) => (ushort)(offset | (wrapCounter ? 0x8000 : 0));
}
