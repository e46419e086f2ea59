using VirtioScope.Block;
using VirtioScope.Testing;
using VirtioScope.Virtio;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Virtio.Tests;

public class ConfigSpaceTests
{
    /// <summary>The seed crate's documented configuration, byte for byte as spec 5.2.4 lays it out.</summary>
    [Fact]
    public void Seed_configuration_is_expressible_byte_for_byte()
    {
        var options = new BlockDeviceOptions
        {
            SizeMax = 65536,
            SegMax = 128,
            BlockSize = 512,
            Geometry = new BlockGeometry(0, 0, 0),
            MinIoSize = 0,
            MaxDiscardSectors = 0,
            MaxDiscardSegments = 0,
            DiscardSectorAlignment = 0,
            MaxWriteZeroesSectors = 0,
            MaxWriteZeroesSegments = 0,
            WriteZeroesMayUnmap = false,
            WriteCache = WriteCacheMode.WriteThrough,
        };
        using var h = new DeviceHarness(options, diskBytes: 2048L * 1024 * 512);
        byte[] expected = new byte[60];
        BitConverter.TryWriteBytes(expected.AsSpan(0), 2048UL * 1024);
        BitConverter.TryWriteBytes(expected.AsSpan(8), 65536u);
        BitConverter.TryWriteBytes(expected.AsSpan(12), 128u);
        BitConverter.TryWriteBytes(expected.AsSpan(20), 512u);
        BitConverter.TryWriteBytes(expected.AsSpan(34), (ushort)1);
        byte[] actual = new byte[60];
        for (int i = 0; i < 60; i++)
        {
            actual[i] = (byte)h.Transport.Read((ulong)(MmioRegisters.Config + i), 1);
        }
        Assert.Equal(expected, actual);
        Assert.Equal(65536u, h.Transport.Read(MmioRegisters.Config + 8, 4));
    }

    [Fact]
    public void Capacity_reads_as_two_halves_and_generation_is_stable()
    {
        using var h = new DeviceHarness(diskBytes: 8L << 20);
        uint gen = h.Read(MmioRegisters.ConfigGeneration);
        uint lo = h.Transport.Read(MmioRegisters.Config, 4);
        uint hi = h.Transport.Read(MmioRegisters.Config + 4, 4);
        Assert.Equal(gen, h.Read(MmioRegisters.ConfigGeneration));
        Assert.Equal(16384UL, lo | ((ulong)hi << 32));
    }

    [Fact]
    public void Config_change_bumps_generation_and_interrupts()
    {
        using var h = new DeviceHarness();
        uint gen = h.Read(MmioRegisters.ConfigGeneration);
        h.Transport.NotifyConfigChanged();
        Assert.Equal(gen + 1, h.Read(MmioRegisters.ConfigGeneration));
        Assert.Equal(2u, h.Read(MmioRegisters.InterruptStatus));
        Assert.Equal(1, h.Interrupts);
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 4)]
    [InlineData(58, 4)]
    [InlineData(60, 1)]
    public void Misaligned_or_out_of_range_config_reads_are_refused_on_modern(int offset, int width)
    {
        using var h = new DeviceHarness();
        Assert.Equal(0u, h.Transport.Read((ulong)(MmioRegisters.Config + offset), width));
        Assert.Equal(1, h.Transport.Statistics.Faults);
    }

    [Fact]
    public void Legacy_allows_unaligned_config_reads()
    {
        using var h = new DeviceHarness(version: MmioVersion.Legacy, diskBytes: 1 << 20);
        Assert.Equal(0x0008u, h.Transport.Read(MmioRegisters.Config + 1, 2)); // 2048 sectors = 00 08 00 00 ...
    }

    [Fact]
    public void Writeback_is_writable_only_with_config_wce()
    {
        using var h = new DeviceHarness();
        h.StartSplit(VirtioFeatures.Version1 | BlkFeatures.Flush);
        Assert.False(h.Device.WriteThrough);
        h.Transport.Write(MmioRegisters.Config + BlkConfigOffsets.Writeback, 1, 0);
        Assert.Equal(1u, h.Transport.Read(MmioRegisters.Config + BlkConfigOffsets.Writeback, 1));

        using var h2 = new DeviceHarness();
        h2.StartSplit(VirtioFeatures.Version1 | BlkFeatures.Flush | BlkFeatures.ConfigWce);
        h2.Transport.Write(MmioRegisters.Config + BlkConfigOffsets.Writeback, 1, 0);
        Assert.Equal(0u, h2.Transport.Read(MmioRegisters.Config + BlkConfigOffsets.Writeback, 1));
        Assert.True(h2.Device.WriteThrough);
    }

    [Fact]
    public void Without_flush_the_device_is_write_through()
    {
        using var h = new DeviceHarness();
        h.StartSplit(VirtioFeatures.Version1);
        Assert.True(h.Device.WriteThrough);
    }
}
