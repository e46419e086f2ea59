using System.Buffers.Binary;
using VirtioScope.Block;
using VirtioScope.Memory;
using VirtioScope.Virtio;

namespace VirtioScope.Guest.Tests;

public sealed class InitSequenceTests : IDisposable
{
    private readonly GuestMemory _memory = GuestMemory.Create(GuestMemory.DefaultBase, 8 << 20);

    public void Dispose() => _memory.Dispose();

    private static FakeMmio Device(uint version = 2)
    {
        var mmio = new FakeMmio { Version = version };
        BinaryPrimitives.WriteUInt64LittleEndian(mmio.Config, 2048 * 1024);
        BinaryPrimitives.WriteUInt32LittleEndian(mmio.Config.AsSpan(BlkConfigOffsets.SegMax), 128);
        if (version == 1)
        {
            mmio.Features &= ~VirtioFeatures.Version1;
        }
        return mmio;
    }

    [Fact]
    public void ModernStatusSequenceIsTheSpecs()
    {
        FakeMmio mmio = Device();
        using var guest = new VirtioBlkGuest(mmio, _memory, new GuestDriverOptions());
        guest.Initialize();
        Assert.Equal([0u, 1, 3, 11, 15], mmio.StatusWrites);
        Assert.Equal(VirtioFeatures.Version1 | BlkFeatures.Flush | BlkFeatures.SegMax, mmio.DriverFeatures);
        Assert.Equal(mmio.DriverFeatures, guest.NegotiatedFeatures);
        Assert.Equal(2048UL * 1024, guest.Config.Capacity);
        Assert.Equal(128u, guest.Config.SegMax);
    }

    [Fact]
    public void ProbeReadsIdentityBeforeTouchingStatus()
    {
        FakeMmio mmio = Device();
        using var guest = new VirtioBlkGuest(mmio, _memory, new GuestDriverOptions());
        guest.Initialize();
        int firstStatusWrite = mmio.Log.FindIndex(e => e.Write && e.Offset == MmioRegisters.Status);
        int magic = mmio.Log.FindIndex(e => !e.Write && e.Offset == MmioRegisters.MagicValue);
        int id = mmio.Log.FindIndex(e => !e.Write && e.Offset == MmioRegisters.DeviceId);
        Assert.True(magic < firstStatusWrite && id < firstStatusWrite);
    }

    [Fact]
    public void ModernQueueSetupWritesEveryRegister()
    {
        FakeMmio mmio = Device();
        using var guest = new VirtioBlkGuest(mmio, _memory, new GuestDriverOptions { QueueSize = 128 });
        guest.Initialize();
        Assert.Equal(128u, mmio.LastWrite[MmioRegisters.QueueNum]);
        Assert.Equal(1u, mmio.LastWrite[MmioRegisters.QueueReady]);
        ulong desc = mmio.LastWrite[MmioRegisters.QueueDescLow] | ((ulong)mmio.LastWrite[MmioRegisters.QueueDescHigh] << 32);
        ulong driver = mmio.LastWrite[MmioRegisters.QueueDriverLow] | ((ulong)mmio.LastWrite[MmioRegisters.QueueDriverHigh] << 32);
        ulong device = mmio.LastWrite[MmioRegisters.QueueDeviceLow] | ((ulong)mmio.LastWrite[MmioRegisters.QueueDeviceHigh] << 32);
        Assert.Equal(0UL, desc % 16);
        Assert.Equal(0UL, driver % 2);
        Assert.Equal(0UL, device % 4);
        Assert.True(driver >= desc + (128 * 16));
        Assert.True(device >= driver + 6 + (2 * 128));
        Assert.True(_memory.IsValidRange(device, 6 + (8 * 128)));
        // QueueReady comes after the addresses.
        int ready = mmio.Log.FindLastIndex(e => e.Write && e.Offset == MmioRegisters.QueueReady);
        int addr = mmio.Log.FindLastIndex(e => e.Write && e.Offset == MmioRegisters.QueueDeviceHigh);
        Assert.True(ready > addr);
    }

    [Fact]
    public void LegacyUsesPfnLayoutAndNoFeaturesOk()
    {
        FakeMmio mmio = Device(version: 1);
        using var guest = new VirtioBlkGuest(mmio, _memory, new GuestDriverOptions());
        guest.Initialize();
        Assert.True(guest.IsLegacy);
        Assert.Equal([0u, 1, 3, 7], mmio.StatusWrites);
        Assert.Equal(4096u, mmio.LastWrite[MmioRegisters.GuestPageSize]);
        Assert.Equal(4096u, mmio.LastWrite[MmioRegisters.QueueAlign]);
        Assert.Equal(256u, mmio.LastWrite[MmioRegisters.QueueNum]);
        uint pfn = mmio.LastWrite[MmioRegisters.QueuePfn];
        Assert.NotEqual(0u, pfn);
        Assert.True(_memory.IsValidRange((ulong)pfn * 4096, 12288));
        Assert.DoesNotContain(mmio.Log, e => e.Offset == MmioRegisters.QueueReady || e.Offset == MmioRegisters.ConfigGeneration);
    }

    [Fact]
    public void RefusedFeaturesOkSetsFailedAndThrows()
    {
        FakeMmio mmio = Device();
        mmio.RefuseFeaturesOk = true;
        using var guest = new VirtioBlkGuest(mmio, _memory, new GuestDriverOptions());
        var e = Assert.Throws<GuestDriverException>(guest.Initialize);
        Assert.Contains("refused FEATURES_OK", e.Message, StringComparison.Ordinal);
        Assert.NotEqual(0u, mmio.StatusWrites[^1] & (uint)DeviceStatus.Failed);
        Assert.False(guest.IsInitialized);
    }

    [Theory]
    [InlineData(0x1234u, 2u, 2u, "MagicValue")]
    [InlineData(MmioRegisters.Magic, 3u, 2u, "version 3")]
    [InlineData(MmioRegisters.Magic, 2u, 0u, "DeviceID 0")]
    [InlineData(MmioRegisters.Magic, 2u, 1u, "not a block device")]
    public void ProbeFailuresAreClear(uint magic, uint version, uint deviceId, string expected)
    {
        var mmio = new FakeMmio { Magic = magic, Version = version, DeviceId = deviceId };
        using var guest = new VirtioBlkGuest(mmio, _memory, new GuestDriverOptions());
        var e = Assert.Throws<GuestDriverException>(guest.Initialize);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Empty(mmio.StatusWrites);
    }

    [Fact]
    public void ModernDeviceWithoutVersion1IsRejected()
    {
        FakeMmio mmio = Device();
        mmio.Features = BlkFeatures.Flush;
        using var guest = new VirtioBlkGuest(mmio, _memory, new GuestDriverOptions());
        var e = Assert.Throws<GuestDriverException>(guest.Initialize);
        Assert.Contains("VIRTIO_F_VERSION_1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FeatureMaskAndOptionsLimitWhatIsAccepted()
    {
        FakeMmio mmio = Device();
        mmio.Features = VirtioFeatures.Version1 | VirtioFeatures.RingEventIdx | VirtioFeatures.RingIndirectDesc | BlkFeatures.Flush
            | BlkFeatures.Discard | (1UL << 50);
        using var guest = new VirtioBlkGuest(mmio, _memory, new GuestDriverOptions { UseEventIdx = false, FeatureMask = ~BlkFeatures.Discard });
        guest.Initialize();
        Assert.Equal(VirtioFeatures.Version1 | VirtioFeatures.RingIndirectDesc | BlkFeatures.Flush, guest.NegotiatedFeatures);
        Assert.Equal(guest.NegotiatedFeatures, mmio.DriverFeatures);
    }

    [Fact]
    public void PackedWithoutOfferFailsClearly()
    {
        FakeMmio mmio = Device();
        using var guest = new VirtioBlkGuest(mmio, _memory, new GuestDriverOptions { UsePacked = true });
        var e = Assert.Throws<GuestDriverException>(guest.Initialize);
        Assert.Contains("VIRTIO_F_RING_PACKED", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PackedOnLegacyFailsClearly()
    {
        FakeMmio mmio = Device(version: 1);
        mmio.Features |= VirtioFeatures.RingPacked;
        using var guest = new VirtioBlkGuest(mmio, _memory, new GuestDriverOptions { UsePacked = true });
        var e = Assert.Throws<GuestDriverException>(guest.Initialize);
        Assert.Contains("version 2", e.Message, StringComparison.Ordinal);
        Assert.NotEqual(0u, mmio.StatusWrites[^1] & (uint)DeviceStatus.Failed);
    }

    [Fact]
    public void WritebackToggleIsDroppedWithoutFlush()
    {
        FakeMmio mmio = Device();
        mmio.Features = VirtioFeatures.Version1 | BlkFeatures.ConfigWce;
        using var guest = new VirtioBlkGuest(mmio, _memory, new GuestDriverOptions());
        guest.Initialize();
        Assert.Equal(VirtioFeatures.Version1, guest.NegotiatedFeatures);
    }

    [Theory]
    [InlineData(0, 256, 64)]
    [InlineData(1, 100, 64)]
    [InlineData(1, 256, 0)]
    [InlineData(1, 256, 300)]
    public void BadOptionsAreRejectedWithAClearMessage(int queues, int size, int depth)
    {
        var options = new GuestDriverOptions { QueueCount = queues, QueueSize = size, QueueDepth = depth };
        var e = Assert.Throws<ArgumentException>(() => new VirtioBlkGuest(new FakeMmio(), _memory, options));
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }

    [Fact]
    public void TooLittleGuestMemoryFailsClearly()
    {
        using GuestMemory small = GuestMemory.Create(GuestMemory.DefaultBase, 1 << 20);
        FakeMmio mmio = Device();
        using var guest = new VirtioBlkGuest(mmio, small, new GuestDriverOptions());
        var e = Assert.Throws<GuestDriverException>(guest.Initialize);
        Assert.Contains("exhausted", e.Message, StringComparison.Ordinal);
        Assert.NotEqual(0u, mmio.StatusWrites[^1] & (uint)DeviceStatus.Failed);
    }

    [Fact]
    public void MissingQueueFailsClearly()
    {
        FakeMmio mmio = Device();
        mmio.QueueNumMax = 0;
        using var guest = new VirtioBlkGuest(mmio, _memory, new GuestDriverOptions());
        var e = Assert.Throws<GuestDriverException>(guest.Initialize);
        Assert.Contains("no queue 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void QueueSizeIsCappedByQueueNumMax()
    {
        FakeMmio mmio = Device();
        mmio.QueueNumMax = 100;
        using var guest = new VirtioBlkGuest(mmio, _memory, new GuestDriverOptions { QueueSize = 256, QueueDepth = 32 });
        guest.Initialize();
        // 100 is not a power of two: a split ring rounds down to 64.
        Assert.Equal(64u, mmio.LastWrite[MmioRegisters.QueueNum]);
        Assert.Equal(64, guest.Queues[0].Size);
    }

    [Fact]
    public void ResetThatNeverReadsBackZeroIsBounded()
    {
        var mmio = new StuckStatus();
        using var guest = new VirtioBlkGuest(mmio, _memory, new GuestDriverOptions());
        var e = Assert.Throws<GuestDriverException>(guest.Initialize);
        Assert.Contains("did not complete its reset", e.Message, StringComparison.Ordinal);
    }

    private sealed class StuckStatus : IMmioDevice
    {
        public uint Read(ulong offset, int width) => offset switch
        {
            MmioRegisters.MagicValue => MmioRegisters.Magic,
            MmioRegisters.Version => 2,
            MmioRegisters.DeviceId => BlkLayout.DeviceId,
            MmioRegisters.Status => 1,
            _ => 0,
        };

        public void Write(ulong offset, int width, uint value)
        {
        }
    }
}
