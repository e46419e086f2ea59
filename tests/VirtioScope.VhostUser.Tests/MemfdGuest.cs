using VirtioScope.Memory;
using VirtioScope.VhostUser.Native;
using VirtioScope.VhostUser.Protocol;

namespace VirtioScope.VhostUser.Tests;

/// <summary>
/// Guest RAM as QEMU provides it to a vhost-user back-end: a memfd, mapped here for the test's driver side and passed
/// to the server by SCM_RIGHTS. The front-end "virtual address" is a made-up value distinct from the guest-physical
/// one, so a back-end that confused the two would fail.
/// </summary>
internal sealed unsafe class MemfdGuest : IDisposable
{
    public const ulong GuestBase = 0x1_0000_0000;
    public const ulong UserBase = 0x5555_0000_0000;

    private readonly nint _host;

    public MemfdGuest(ulong size = 1 << 20)
    {
        Size = size;
        Fd = Libc.MemfdCreate("vhost-test-guest", 0);
        Assert.True(Fd >= 0, $"memfd_create: {Libc.LastError()}");
        Assert.Equal(0, Libc.Ftruncate(Fd, (long)size));
        _host = Libc.Mmap(0, (nuint)size, Libc.ProtRead | Libc.ProtWrite, Libc.MapShared, Fd, 0);
        Assert.NotEqual(Libc.MapFailed, _host);
        Memory = new GuestMemory([GuestRegion.FromHostMemory(GuestBase, size, _host, owner: null)]);
    }

    public int Fd { get; }

    public ulong Size { get; }

    /// <summary>The driver's view of the same pages the server maps.</summary>
    public GuestMemory Memory { get; }

    public RegionDescriptor Region => new(GuestBase, Size, UserBase, 0);

    /// <summary>The front-end virtual address of a guest-physical one.</summary>
    public static ulong User(ulong guest) => guest - GuestBase + UserBase;

    public void Dispose()
    {
        Memory.Dispose();
        _ = Libc.Munmap(_host, (nuint)Size);
        Libc.Close(Fd);
    }
}
