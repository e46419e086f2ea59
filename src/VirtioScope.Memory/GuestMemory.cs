using System.Buffers.Binary;

namespace VirtioScope.Memory;

/// <summary>
/// The guest-physical address space of the sandbox: a set of non-overlapping regions. Every access is bounds-checked
/// against one region, so no guest-supplied address can reach host memory outside the sandbox. The Try methods report
/// a <see cref="MemoryFault"/> instead of throwing; they are what the device uses, since hostile addresses are normal.
/// </summary>
/// <remarks>
/// Several views may share the same regions (see <see cref="CreateView"/>): the device gets one with a
/// <see cref="WriteLog"/> so that tools can see what the device wrote, the guest driver another.
/// Not thread-safe for concurrent writes to the same bytes, like real memory.
/// </remarks>
public sealed class GuestMemory : IDisposable
{
    /// <summary>Default guest-physical base of the sandbox's RAM.</summary>
    public const ulong DefaultBase = 0x4000_0000;

    /// <summary>Default size of the sandbox's RAM (64 MiB).</summary>
    public const ulong DefaultSize = 64UL << 20;

    private readonly GuestRegion[] _regions;
    private readonly bool _ownsRegions;

    /// <summary>Builds an address space from regions, which it then owns.</summary>
    /// <exception cref="ArgumentException">Regions overlap or none is given.</exception>
    public GuestMemory(IEnumerable<GuestRegion> regions)
        : this(Sorted(regions), ownsRegions: true)
    {
    }

    private GuestMemory(GuestRegion[] regions, bool ownsRegions)
    {
        _regions = regions;
        _ownsRegions = ownsRegions;
    }

    /// <summary>Creates an address space of one zeroed region.</summary>
    public static GuestMemory Create(ulong guestBase = DefaultBase, ulong size = DefaultSize) =>
        new([GuestRegion.Allocate(guestBase, size)]);

    private static GuestRegion[] Sorted(IEnumerable<GuestRegion> regions)
    {
        GuestRegion[] sorted = [.. regions.OrderBy(r => r.GuestBase)];
        if (sorted.Length == 0)
        {
            throw new ArgumentException("guest memory needs at least one region", nameof(regions));
        }
        for (int i = 1; i < sorted.Length; i++)
        {
            if (sorted[i].GuestBase < sorted[i - 1].GuestEnd)
            {
                throw new ArgumentException($"guest memory regions at 0x{sorted[i - 1].GuestBase:x} and 0x{sorted[i].GuestBase:x} overlap", nameof(regions));
            }
        }
        return sorted;
    }

    /// <summary>The regions, in address order.</summary>
    public IReadOnlyList<GuestRegion> Regions => _regions;

    /// <summary>The log of writes made through this view, when enabled.</summary>
    public WriteLog? WriteLog { get; private set; }

    /// <summary>Watcher of the accesses made through this view (null, the default, costs one check per access).</summary>
    public IGuestMemoryObserver? Observer { get; set; }

    /// <summary>Total bytes of guest memory.</summary>
    public ulong TotalSize => _regions.Aggregate(0UL, (sum, r) => sum + r.Size);

    /// <summary>Starts logging the pages written through this view (idempotent).</summary>
    public WriteLog EnableWriteLog() => WriteLog ??= new WriteLog(_regions);

    /// <summary>Another view of the same regions, with its own (initially disabled) write log. It does not own the regions.</summary>
    public GuestMemory CreateView() => new(_regions, ownsRegions: false);

    /// <summary>Whether [address, address+length) lies wholly inside one region.</summary>
    public bool IsValidRange(ulong address, ulong length) => Locate(address, length, out _, out _) is null;

    /// <summary>
    /// Translates a guest address to the host bytes from there to the end of its region: the analogue of
    /// <c>translate_and_get_limit</c>. The span is capped at <see cref="int.MaxValue"/> bytes.
    /// </summary>
    public bool TryTranslate(ulong address, out Span<byte> toRegionEnd)
    {
        foreach (GuestRegion region in _regions)
        {
            ulong offset = address - region.GuestBase;
            if (address >= region.GuestBase && offset < region.Size)
            {
                toRegionEnd = region.Slice(offset, (int)Math.Min(region.Size - offset, int.MaxValue));
                return true;
            }
        }
        toRegionEnd = default;
        return false;
    }

    /// <summary>Host view of a guest range for reading, or a fault.</summary>
    public MemoryFault? TryGetReadSpan(ulong address, int length, out ReadOnlySpan<byte> span)
    {
        MemoryFault? fault = TryGet(address, length, out Span<byte> s, out _, out _);
        if (fault is null && Observer is { } observer)
        {
            observer.OnRead(address, s);
        }
        span = s;
        return fault;
    }

    /// <summary>Host view of a guest range for writing, or a fault. The range is marked in the write log when obtained.</summary>
    public MemoryFault? TryGetWriteSpan(ulong address, int length, out Span<byte> span)
    {
        MemoryFault? fault = TryGet(address, length, out span, out int region, out ulong offset);
        if (fault is null)
        {
            WriteLog?.Mark(region, offset, (ulong)length);
            Observer?.OnWrite(address, length);
        }
        return fault;
    }

    /// <summary>Copies guest bytes into <paramref name="destination"/>, or reports a fault.</summary>
    public MemoryFault? TryRead(ulong address, Span<byte> destination)
    {
        MemoryFault? fault = TryGetReadSpan(address, destination.Length, out ReadOnlySpan<byte> src);
        if (fault is null)
        {
            src.CopyTo(destination);
        }
        return fault;
    }

    /// <summary>Copies <paramref name="source"/> into guest memory, or reports a fault.</summary>
    public MemoryFault? TryWrite(ulong address, ReadOnlySpan<byte> source)
    {
        MemoryFault? fault = TryGetWriteSpan(address, source.Length, out Span<byte> dst);
        if (fault is null)
        {
            source.CopyTo(dst);
        }
        return fault;
    }

    /// <summary>Reads guest bytes or throws <see cref="GuestMemoryFaultException"/>.</summary>
    public void Read(ulong address, Span<byte> destination) => ThrowIf(TryRead(address, destination));

    /// <summary>Writes guest bytes or throws <see cref="GuestMemoryFaultException"/>.</summary>
    public void Write(ulong address, ReadOnlySpan<byte> source) => ThrowIf(TryWrite(address, source));

    /// <summary>Reads a little-endian 16-bit value or throws.</summary>
    public ushort ReadU16(ulong address) => BinaryPrimitives.ReadUInt16LittleEndian(ReadSpan(address, 2));

    /// <summary>Reads a little-endian 32-bit value or throws.</summary>
    public uint ReadU32(ulong address) => BinaryPrimitives.ReadUInt32LittleEndian(ReadSpan(address, 4));

    /// <summary>Reads a little-endian 64-bit value or throws.</summary>
    public ulong ReadU64(ulong address) => BinaryPrimitives.ReadUInt64LittleEndian(ReadSpan(address, 8));

    /// <summary>Writes a little-endian 16-bit value or throws.</summary>
    public void WriteU16(ulong address, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(WriteSpan(address, 2), value);

    /// <summary>Writes a little-endian 32-bit value or throws.</summary>
    public void WriteU32(ulong address, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(WriteSpan(address, 4), value);

    /// <summary>Writes a little-endian 64-bit value or throws.</summary>
    public void WriteU64(ulong address, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(WriteSpan(address, 8), value);

    /// <summary>Host view for reading, or throws <see cref="GuestMemoryFaultException"/>.</summary>
    public ReadOnlySpan<byte> ReadSpan(ulong address, int length)
    {
        ThrowIf(TryGetReadSpan(address, length, out ReadOnlySpan<byte> span));
        return span;
    }

    /// <summary>Host view for writing (logged), or throws <see cref="GuestMemoryFaultException"/>.</summary>
    public Span<byte> WriteSpan(ulong address, int length)
    {
        ThrowIf(TryGetWriteSpan(address, length, out Span<byte> span));
        return span;
    }

    private static void ThrowIf(MemoryFault? fault)
    {
        if (fault is { } f)
        {
            throw new GuestMemoryFaultException(f);
        }
    }

    private MemoryFault? TryGet(ulong address, int length, out Span<byte> span, out int region, out ulong offset)
    {
        span = default;
        if (length < 0)
        {
            region = -1;
            offset = 0;
            return new MemoryFault(address, length, MemoryFaultKind.BadLength);
        }
        MemoryFault? fault = Locate(address, (ulong)length, out region, out offset);
        if (fault is null)
        {
            span = _regions[region].Slice(offset, length);
        }
        return fault;
    }

    private MemoryFault? Locate(ulong address, ulong length, out int region, out ulong offset)
    {
        if (ulong.MaxValue - address < length)
        {
            region = -1;
            offset = 0;
            return new MemoryFault(address, (long)Math.Min(length, long.MaxValue), MemoryFaultKind.BadLength);
        }
        GuestRegion[] regions = _regions;
        for (int i = 0; i < regions.Length; i++)
        {
            GuestRegion r = regions[i];
            ulong off = address - r.GuestBase;
            if (address >= r.GuestBase && off < r.Size)
            {
                region = i;
                offset = off;
                return r.Size - off >= length
                    ? null
                    : new MemoryFault(address, (long)length, MemoryFaultKind.CrossesRegionEnd);
            }
        }
        region = -1;
        offset = 0;
        return new MemoryFault(address, (long)Math.Min(length, long.MaxValue), MemoryFaultKind.Unmapped);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsRegions)
        {
            foreach (GuestRegion r in _regions)
            {
                r.Dispose();
            }
        }
    }
}
