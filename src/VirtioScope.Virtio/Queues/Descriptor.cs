namespace VirtioScope.Virtio.Queues;

/// <summary>Descriptor flag bits shared by split (2.7.5) and packed (2.8.1) rings.</summary>
[Flags]
public enum DescriptorFlags : ushort
{
    /// <summary>No flags: a device-readable, final descriptor.</summary>
    None = 0,

    /// <summary>The chain continues (split: at <c>next</c>; packed: in the following slot).</summary>
    Next = 1,

    /// <summary>The buffer is device-writable.</summary>
    Write = 2,

    /// <summary>The buffer holds a table of descriptors.</summary>
    Indirect = 4,

    /// <summary>Packed ring: the driver's wrap counter when made available.</summary>
    Available = 1 << 7,

    /// <summary>Packed ring: the device's wrap counter when used.</summary>
    Used = 1 << 15,
}

/// <summary>One buffer of a chain as the device sees it: guest address, length and direction.</summary>
public readonly record struct Descriptor(ulong Address, uint Length, DescriptorFlags Flags)
{
    /// <summary>Size of a descriptor in a split or packed table.</summary>
    public const int Size = 16;

    /// <summary>Whether the device may write the buffer (otherwise it may only read it).</summary>
    public bool IsWriteOnly => (Flags & DescriptorFlags.Write) != 0;
}
