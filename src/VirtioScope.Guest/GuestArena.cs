using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VirtioScope.Memory;

namespace VirtioScope.Guest;

/// <summary>
/// The driver's mapping of its own guest memory: one host pointer for the arena, translated once, as a real driver maps
/// its DMA memory. Every address handed out comes from the <see cref="GuestAllocator"/> over this arena, so the hot path
/// does pointer arithmetic instead of a region lookup per access. The guest memory must outlive the driver.
/// </summary>
internal sealed unsafe class GuestArena
{
    private readonly byte* _host;

    public GuestArena(GuestMemory memory, ulong start, ulong size)
    {
        if (!memory.TryTranslate(start, out Span<byte> toEnd) || (ulong)toEnd.Length < size)
        {
            throw new GuestDriverException($"driver arena 0x{start:x}+0x{size:x} is not inside one guest memory region");
        }
        _host = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(toEnd));
        Start = start;
        Size = size;
    }

    public ulong Start { get; }

    public ulong Size { get; }

    /// <summary>Whether [address, address+length) lies in the arena.</summary>
    public bool Contains(ulong address, ulong length) =>
        address >= Start && address - Start <= Size && Size - (address - Start) >= length;

    /// <summary>Host pointer of an arena address; the caller got the address from the allocator.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* Pointer(ulong address) => _host + (address - Start);

    /// <summary>Bounds-checked host view of arena bytes.</summary>
    public Span<byte> Span(ulong address, int length)
    {
        if (length < 0 || !Contains(address, (ulong)length))
        {
            throw new ArgumentOutOfRangeException(nameof(address), $"0x{address:x}+0x{length:x} is outside the driver's arena");
        }
        return new Span<byte>(Pointer(address), length);
    }
}
