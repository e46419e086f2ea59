using VirtioScope.Block;
using VirtioScope.Guest;
using VirtioScope.Memory;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Guest.Tests;

/// <summary>A real device (memory backend behind the MMIO transport) with the guest driver wired to its interrupt line.</summary>
internal sealed class GuestRig : IDisposable
{
    public GuestRig(GuestDriverOptions? guestOptions = null, BlockDeviceOptions? deviceOptions = null, MmioVersion version = MmioVersion.Modern,
        long diskBytes = 16 << 20, bool readOnly = false, ulong memoryBytes = 32 << 20)
    {
        Memory = GuestMemory.Create(GuestMemory.DefaultBase, memoryBytes);
        Backend = new MemoryBackend(diskBytes, readOnly);
        Device = new BlockDevice(Backend, deviceOptions);
        Transport = new MmioTransport(Device, Memory.CreateView(), new MmioTransportOptions { Version = version });
        Guest = new VirtioBlkGuest(Transport, Memory.CreateView(), guestOptions ?? new GuestDriverOptions());
        Transport.InterruptRaised = Guest.OnInterrupt;
    }

    public GuestMemory Memory { get; }

    public MemoryBackend Backend { get; }

    public BlockDevice Device { get; }

    public MmioTransport Transport { get; }

    public VirtioBlkGuest Guest { get; }

    public void Dispose()
    {
        Guest.Dispose();
        Backend.Dispose();
        Memory.Dispose();
    }
}
