using System.Runtime.InteropServices;

namespace VirtioScope.Memory;

/// <summary>
/// One contiguous range of guest-physical memory backed by host memory the sandbox owns (or borrows, for
/// memory shared with a real guest). All access goes through <see cref="GuestMemory"/>, which bounds-checks it.
/// </summary>
public sealed unsafe class GuestRegion : IDisposable
{
    private byte* _host;
    private readonly bool _owned;
    private readonly IDisposable? _owner;

    private GuestRegion(ulong guestBase, ulong size, byte* host, bool owned, IDisposable? owner)
    {
        GuestBase = guestBase;
        Size = size;
        _host = host;
        _owned = owned;
        _owner = owner;
    }

    /// <summary>First guest-physical address of the region.</summary>
    public ulong GuestBase { get; }

    /// <summary>Length of the region in bytes.</summary>
    public ulong Size { get; }

    /// <summary>One past the last guest-physical address (saturating at <see cref="ulong.MaxValue"/>).</summary>
    public ulong GuestEnd => ulong.MaxValue - GuestBase < Size ? ulong.MaxValue : GuestBase + Size;

    /// <summary>Allocates zeroed host memory for a new region.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The size is zero, above 1 TiB, or the region wraps the address space.</exception>
    public static GuestRegion Allocate(ulong guestBase, ulong size)
    {
        Validate(guestBase, size);
        byte* host = (byte*)NativeMemory.AlignedAlloc((nuint)size, 4096);
        NativeMemory.Clear(host, (nuint)size);
        return new GuestRegion(guestBase, size, host, owned: true, owner: null);
    }

    /// <summary>
    /// Wraps host memory that something else owns, such as a mapping shared with a real guest. The region stays valid
    /// until <paramref name="owner"/> is disposed, which this region does on its own disposal.
    /// </summary>
    public static GuestRegion FromHostMemory(ulong guestBase, ulong size, nint host, IDisposable? owner)
    {
        Validate(guestBase, size);
        ArgumentOutOfRangeException.ThrowIfZero(host);
        return new GuestRegion(guestBase, size, (byte*)host, owned: false, owner);
    }

    private static void Validate(ulong guestBase, ulong size)
    {
        ArgumentOutOfRangeException.ThrowIfZero(size);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, 1UL << 40);
        if (ulong.MaxValue - guestBase < size - 1)
        {
            throw new ArgumentOutOfRangeException(nameof(size), $"region at 0x{guestBase:x} of 0x{size:x} bytes wraps the address space");
        }
    }

    /// <summary>Host view of <paramref name="length"/> bytes at <paramref name="offset"/>; the caller has checked the bounds.</summary>
    internal Span<byte> Slice(ulong offset, int length)
    {
        ObjectDisposedException.ThrowIf(_host == null, this);
        return new Span<byte>(_host + offset, length);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_host == null)
        {
            return;
        }
        if (_owned)
        {
            NativeMemory.AlignedFree(_host);
        }
        _host = null;
        _owner?.Dispose();
    }
}
