namespace VirtioScope.Virtio.Transport;

/// <summary>
/// Guest-physical MMIO space: routes absolute addresses to the device whose window holds them, as a machine's bus
/// does. Addresses that hit no window read as all ones and ignore stores, like an unclaimed bus cycle.
/// </summary>
public sealed class MmioBus
{
    private readonly List<(ulong Base, ulong Size, IMmioDevice Device)> _windows = [];

    /// <summary>Places a device window; overlapping windows are refused.</summary>
    public void Map(ulong baseAddress, ulong size, IMmioDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfZero(size);
        foreach ((ulong b, ulong s, _) in _windows)
        {
            if (baseAddress < b + s && b < baseAddress + size)
            {
                throw new ArgumentException($"MMIO window 0x{baseAddress:x}+0x{size:x} overlaps 0x{b:x}+0x{s:x}");
            }
        }
        _windows.Add((baseAddress, size, device));
    }

    /// <summary>Places a transport at its configured base and window size.</summary>
    public void Map(MmioTransport transport)
    {
        ArgumentNullException.ThrowIfNull(transport);
        Map(transport.Options.BaseAddress, transport.Options.WindowSize, transport);
    }

    /// <summary>Loads from an absolute address.</summary>
    public uint Read(ulong address, int width) =>
        Find(address, out ulong offset) is { } d ? d.Read(offset, width) : width >= 4 ? uint.MaxValue : (1u << (8 * width)) - 1;

    /// <summary>Stores to an absolute address.</summary>
    public void Write(ulong address, int width, uint value) => Find(address, out ulong offset)?.Write(offset, width, value);

    /// <summary>A view of one device's window at its base, for drivers that speak in offsets.</summary>
    public IMmioDevice Window(ulong baseAddress) => new WindowView(this, baseAddress);

    private IMmioDevice? Find(ulong address, out ulong offset)
    {
        foreach ((ulong b, ulong s, IMmioDevice d) in _windows)
        {
            if (address >= b && address - b < s)
            {
                offset = address - b;
                return d;
            }
        }
        offset = 0;
        return null;
    }

    private sealed class WindowView(MmioBus bus, ulong baseAddress) : IMmioDevice
    {
        public uint Read(ulong offset, int width) => bus.Read(baseAddress + offset, width);

        public void Write(ulong offset, int width, uint value) => bus.Write(baseAddress + offset, width, value);
    }
}
