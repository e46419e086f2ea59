namespace VirtioScope.Guest;

/// <summary>
/// A bump allocator over one guest-physical range: rings and request buffers are carved out once at initialisation
/// and given back all at once by <see cref="Reset"/> (a device reset abandons every ring anyway).
/// </summary>
public sealed class GuestAllocator
{
    private ulong _next;

    /// <summary>Creates an allocator for [<paramref name="start"/>, <paramref name="start"/> + <paramref name="size"/>).</summary>
    public GuestAllocator(ulong start, ulong size)
    {
        if (size == 0 || ulong.MaxValue - start < size)
        {
            throw new ArgumentOutOfRangeException(nameof(size), $"allocator range 0x{start:x}+0x{size:x} is empty or wraps");
        }
        Start = start;
        Size = size;
        _next = start;
    }

    /// <summary>First address of the range.</summary>
    public ulong Start { get; }

    /// <summary>Bytes in the range.</summary>
    public ulong Size { get; }

    /// <summary>Bytes handed out so far, padding included.</summary>
    public ulong Used => _next - Start;

    /// <summary>Bytes still free (before alignment padding).</summary>
    public ulong Remaining => Size - Used;

    /// <summary>Allocates <paramref name="size"/> bytes aligned to <paramref name="alignment"/> (a power of two).</summary>
    /// <exception cref="GuestDriverException">The range is exhausted.</exception>
    public ulong Allocate(ulong size, ulong alignment)
    {
        if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(alignment), $"alignment {alignment} is not a power of two");
        }
        ulong end = Start + Size;
        ulong aligned = (_next + alignment - 1) & ~(alignment - 1);
        if (aligned < _next || aligned > end || end - aligned < size)
        {
            throw new GuestDriverException($"guest memory for the driver is exhausted: 0x{size:x} bytes (aligned to {alignment}) requested, 0x{Remaining:x} of 0x{Size:x} left");
        }
        _next = aligned + size;
        return aligned;
    }

    /// <summary>Frees everything.</summary>
    public void Reset() => _next = Start;
}
