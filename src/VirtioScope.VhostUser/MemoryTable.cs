using VirtioScope.Memory;
using VirtioScope.VhostUser.Native;
using VirtioScope.VhostUser.Protocol;

namespace VirtioScope.VhostUser;

/// <summary>One front-end memory region mapped into this process.</summary>
internal sealed class MappedRegion(RegionDescriptor descriptor, nint mapping, nuint mappingLength, nint host) : IDisposable
{
    private nint _mapping = mapping;

    public RegionDescriptor Descriptor { get; } = descriptor;

    /// <summary>Host address of the region's first byte.</summary>
    public nint Host { get; } = host;

    public void Dispose()
    {
        if (_mapping != 0)
        {
            _ = Libc.Munmap(_mapping, mappingLength);
            _mapping = 0;
        }
    }
}

/// <summary>
/// The front-end's memory as the back-end sees it: regions mapped from the descriptors SET_MEM_TABLE and
/// ADD/REM_MEM_REG pass, a <see cref="GuestMemory"/> over them for the device (the same bounds-checked abstraction as
/// the sandbox), and the translation of front-end virtual addresses (ring addresses) to guest-physical ones.
/// Changes happen only while no queue runs; the caller guarantees that.
/// </summary>
internal sealed class MemoryTable : IDisposable
{
    private readonly List<MappedRegion> _regions = [];

    /// <summary>The current address space, or null with no regions.</summary>
    public GuestMemory? Memory { get; private set; }

    public IReadOnlyList<MappedRegion> Regions => _regions;

    /// <summary>Maps a region from <paramref name="fd"/> (which the caller still closes); an error message when it cannot.</summary>
    public string? Add(RegionDescriptor d, int fd)
    {
        if (_regions.Count >= VhostUserWire.MaxMemSlots)
        {
            return $"more than {VhostUserWire.MaxMemSlots} memory regions";
        }
        if (OverlapsAny(_regions, d))
        {
            return $"memory region at guest 0x{d.GuestPhysAddr:x} overlaps a mapped one";
        }
        if (Map(d, fd, out MappedRegion? region) is { } error)
        {
            return error;
        }
        _regions.Add(region!);
        Rebuild();
        return null;
    }

    /// <summary>
    /// Replaces every region (SET_MEM_TABLE, which a front-end re-sends whole, unchanged regions included): all new
    /// ones are mapped, and checked against each other only, before any old one is dropped.
    /// </summary>
    public string? Replace(ReadOnlySpan<RegionDescriptor> descriptors, ReadOnlySpan<int> fds)
    {
        var mapped = new List<MappedRegion>(descriptors.Length);
        for (int i = 0; i < descriptors.Length; i++)
        {
            if (Map(descriptors[i], fds[i], out MappedRegion? region) is { } error)
            {
                mapped.ForEach(r => r.Dispose());
                return error;
            }
            if (OverlapsAny(mapped, descriptors[i]))
            {
                region!.Dispose();
                mapped.ForEach(r => r.Dispose());
                return $"region at guest 0x{descriptors[i].GuestPhysAddr:x} overlaps another";
            }
            mapped.Add(region!);
        }
        Clear();
        _regions.AddRange(mapped);
        Rebuild();
        return null;
    }

    /// <summary>Unmaps the region matching guest address, user address and size (REM_MEM_REG ignores the offset).</summary>
    public string? Remove(RegionDescriptor d)
    {
        int index = _regions.FindIndex(r => r.Descriptor.GuestPhysAddr == d.GuestPhysAddr && r.Descriptor.UserAddr == d.UserAddr && r.Descriptor.Size == d.Size);
        if (index < 0)
        {
            return $"no region at guest 0x{d.GuestPhysAddr:x} of 0x{d.Size:x} bytes to remove";
        }
        MappedRegion region = _regions[index];
        _regions.RemoveAt(index);
        Rebuild();
        region.Dispose();
        return null;
    }

    /// <summary>Translates a front-end virtual range to guest-physical; false if it is not inside one region.</summary>
    public bool TryTranslateUser(ulong userAddress, ulong length, out ulong guestAddress)
    {
        foreach (MappedRegion r in _regions)
        {
            RegionDescriptor d = r.Descriptor;
            ulong offset = userAddress - d.UserAddr;
            if (userAddress >= d.UserAddr && offset < d.Size && d.Size - offset >= length)
            {
                guestAddress = d.GuestPhysAddr + offset;
                return true;
            }
        }
        guestAddress = 0;
        return false;
    }

    /// <summary>Unmaps everything.</summary>
    public void Clear()
    {
        Memory?.Dispose();
        Memory = null;
        _regions.ForEach(r => r.Dispose());
        _regions.Clear();
    }

    public void Dispose() => Clear();

    private static bool OverlapsAny(List<MappedRegion> regions, RegionDescriptor d) =>
        regions.Exists(r => d.GuestPhysAddr < r.Descriptor.GuestPhysAddr + r.Descriptor.Size && r.Descriptor.GuestPhysAddr < d.GuestPhysAddr + d.Size);

    private static string? Map(RegionDescriptor d, int fd, out MappedRegion? region)
    {
        region = null;
        if (fd < 0)
        {
            return "memory region without a file descriptor";
        }
        if (d.Size == 0 || d.Size > 1UL << 40 || ulong.MaxValue - d.GuestPhysAddr < d.Size || ulong.MaxValue - d.UserAddr < d.Size
            || d.MmapOffset > long.MaxValue - d.Size)
        {
            return $"memory region at guest 0x{d.GuestPhysAddr:x} has an invalid size 0x{d.Size:x} or offset 0x{d.MmapOffset:x}";
        }
        // Touching a mapping beyond the end of its file raises SIGBUS: refuse regions the file cannot back.
        long fileSize = Libc.Lseek(fd, 0, Libc.SeekEnd);
        if (fileSize < 0 || (ulong)fileSize < d.MmapOffset + d.Size)
        {
            return $"memory region at guest 0x{d.GuestPhysAddr:x}: file of {fileSize} bytes is shorter than offset 0x{d.MmapOffset:x} + size 0x{d.Size:x}";
        }
        ulong pageOffset = d.MmapOffset & ~4095UL;
        ulong skip = d.MmapOffset - pageOffset;
        nuint length = (nuint)(d.Size + skip);
        nint mapping = Libc.Mmap(0, length, Libc.ProtRead | Libc.ProtWrite, Libc.MapShared, fd, (long)pageOffset);
        if (mapping == Libc.MapFailed)
        {
            return $"mmap of memory region at guest 0x{d.GuestPhysAddr:x} failed: {Libc.LastError()}";
        }
        region = new MappedRegion(d, mapping, length, mapping + (nint)skip);
        return null;
    }

    private void Rebuild()
    {
        // The old view's regions only wrap the mappings (no owner), so disposing it unmaps nothing.
        Memory?.Dispose();
        Memory = _regions.Count == 0
            ? null
            : new GuestMemory(_regions.Select(r => GuestRegion.FromHostMemory(r.Descriptor.GuestPhysAddr, r.Descriptor.Size, r.Host, owner: null)));
    }
}
