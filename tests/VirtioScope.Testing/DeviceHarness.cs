using VirtioScope.Block;
using VirtioScope.Memory;
using VirtioScope.Virtio;
using VirtioScope.Virtio.Queues;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Testing;

/// <summary>
/// A block device on a memory backend behind an MMIO transport, with register-level helpers to bring it up.
/// Memory: 1 MiB at 0x4000_0000; rings go at <see cref="RingBase"/>, request buffers at <see cref="DataBase"/>.
/// </summary>
public sealed class DeviceHarness : IDisposable
{
    public const ulong MemBase = 0x4000_0000;
    public const ulong MemSize = 1 << 20;
    public const ulong RingBase = MemBase;
    public const ulong DataBase = MemBase + 0x4_0000;

    public DeviceHarness(BlockDeviceOptions? options = null, MmioVersion version = MmioVersion.Modern, long diskBytes = 1 << 20, bool readOnly = false)
    {
        Memory = GuestMemory.Create(MemBase, MemSize);
        Backend = new MemoryBackend(diskBytes, readOnly);
        Device = new BlockDevice(Backend, options);
        Transport = new MmioTransport(Device, Memory.CreateView(), new MmioTransportOptions { Version = version });
        Transport.InterruptRaised = () => Interrupts++;
    }

    public GuestMemory Memory { get; }

    public MemoryBackend Backend { get; }

    public BlockDevice Device { get; }

    public MmioTransport Transport { get; }

    public int Interrupts { get; set; }

    public uint Read(int offset) => Transport.Read((ulong)offset, 4);

    public void Write(int offset, uint value) => Transport.Write((ulong)offset, 4, value);

    public ulong DeviceFeatures()
    {
        Write(MmioRegisters.DeviceFeaturesSel, 0);
        ulong lo = Read(MmioRegisters.DeviceFeatures);
        Write(MmioRegisters.DeviceFeaturesSel, 1);
        ulong hi = Read(MmioRegisters.DeviceFeatures);
        return lo | (hi << 32);
    }

    /// <summary>Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK; returns whether FEATURES_OK stuck.</summary>
    public bool Negotiate(ulong features)
    {
        Write(MmioRegisters.Status, 0);
        Write(MmioRegisters.Status, (uint)DeviceStatus.Acknowledge);
        Write(MmioRegisters.Status, (uint)(DeviceStatus.Acknowledge | DeviceStatus.Driver));
        Write(MmioRegisters.DriverFeaturesSel, 0);
        Write(MmioRegisters.DriverFeatures, (uint)features);
        Write(MmioRegisters.DriverFeaturesSel, 1);
        Write(MmioRegisters.DriverFeatures, (uint)(features >> 32));
        Write(MmioRegisters.Status, (uint)(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk));
        return ((DeviceStatus)Read(MmioRegisters.Status) & DeviceStatus.FeaturesOk) != 0;
    }

    public void SetupQueue(int index, QueueLayout layout)
    {
        Write(MmioRegisters.QueueSel, (uint)index);
        Write(MmioRegisters.QueueNum, layout.Size);
        Write(MmioRegisters.QueueDescLow, (uint)layout.DescTable);
        Write(MmioRegisters.QueueDescHigh, (uint)(layout.DescTable >> 32));
        Write(MmioRegisters.QueueDriverLow, (uint)layout.DriverArea);
        Write(MmioRegisters.QueueDriverHigh, (uint)(layout.DriverArea >> 32));
        Write(MmioRegisters.QueueDeviceLow, (uint)layout.DeviceArea);
        Write(MmioRegisters.QueueDeviceHigh, (uint)(layout.DeviceArea >> 32));
        Write(MmioRegisters.QueueReady, 1);
    }

    public void DriverOk() => Write(MmioRegisters.Status, Read(MmioRegisters.Status) | (uint)DeviceStatus.DriverOk);

    public DeviceStatus Status => (DeviceStatus)Read(MmioRegisters.Status);

    public void Notify(int queue = 0) => Write(MmioRegisters.QueueNotify, (uint)queue);

    /// <summary>Modern bring-up with one split ring of <paramref name="size"/> at <see cref="RingBase"/>.</summary>
    public MockSplitRing StartSplit(ulong features, ushort size = 16)
    {
        if (!Negotiate(features))
        {
            throw new InvalidOperationException("FEATURES_OK refused");
        }
        var ring = new MockSplitRing(Memory, RingBase, size);
        SetupQueue(0, ring.Layout);
        DriverOk();
        return ring;
    }

    /// <summary>Modern bring-up with one packed ring.</summary>
    public MockPackedRing StartPacked(ulong features, ushort size = 16)
    {
        if (!Negotiate(features | VirtioFeatures.RingPacked))
        {
            throw new InvalidOperationException("FEATURES_OK refused");
        }
        var ring = new MockPackedRing(Memory, RingBase, size);
        SetupQueue(0, ring.Layout);
        DriverOk();
        return ring;
    }

    /// <summary>Writes a request header at <paramref name="at"/>.</summary>
    public void Header(ulong at, BlkRequestType type, ulong sector)
    {
        Memory.WriteU32(at, (uint)type);
        Memory.WriteU32(at + 4, 0);
        Memory.WriteU64(at + 8, sector);
    }

    public byte StatusAt(ulong at) => Memory.ReadSpan(at, 1)[0];

    public void Dispose()
    {
        Backend.Dispose();
        Memory.Dispose();
    }
}
