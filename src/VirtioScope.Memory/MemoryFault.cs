namespace VirtioScope.Memory;

/// <summary>Why a guest-memory access was refused.</summary>
public enum MemoryFaultKind
{
    /// <summary>The start address lies in no region.</summary>
    Unmapped,

    /// <summary>The range starts inside a region but runs past its end.</summary>
    CrossesRegionEnd,

    /// <summary>The length is negative or the range wraps the address space.</summary>
    BadLength,
}

/// <summary>A refused guest-memory access: the address, the length and the reason.</summary>
public readonly record struct MemoryFault(ulong Address, long Length, MemoryFaultKind Kind)
{
    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        MemoryFaultKind.Unmapped => $"guest address 0x{Address:x} is not in guest memory",
        MemoryFaultKind.CrossesRegionEnd => $"guest range 0x{Address:x}+0x{Length:x} runs past the end of its memory region",
        _ => $"guest range 0x{Address:x}+0x{Length:x} has a bad length",
    };
}

/// <summary>Thrown by the convenience accessors of <see cref="GuestMemory"/> when an access is refused.</summary>
public sealed class GuestMemoryFaultException : Exception
{
    /// <summary>Creates the exception for a fault.</summary>
    public GuestMemoryFaultException(MemoryFault fault)
        : base(fault.ToString()) => Fault = fault;

    /// <summary>Creates the exception with no fault detail.</summary>
    public GuestMemoryFaultException() : base("guest memory fault") { }

    /// <summary>Creates the exception with a message.</summary>
    public GuestMemoryFaultException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public GuestMemoryFaultException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>The refused access.</summary>
    public MemoryFault Fault { get; }
}
