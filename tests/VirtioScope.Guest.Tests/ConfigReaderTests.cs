using System.Buffers.Binary;
using VirtioScope.Block;
using VirtioScope.Virtio;

namespace VirtioScope.Guest.Tests;

public sealed class ConfigReaderTests
{
    private const ulong AllConfigFeatures = BlkFeatures.SizeMax | BlkFeatures.SegMax | BlkFeatures.Geometry | BlkFeatures.BlkSize
        | BlkFeatures.Topology | BlkFeatures.ConfigWce | BlkFeatures.Mq | BlkFeatures.Discard | BlkFeatures.WriteZeroes;

    private static FakeMmio Filled()
    {
        var m = new FakeMmio();
        Span<byte> c = m.Config;
        BinaryPrimitives.WriteUInt64LittleEndian(c, 0x1_2345_6789UL);
        BinaryPrimitives.WriteUInt32LittleEndian(c[BlkConfigOffsets.SizeMax..], 65536);
        BinaryPrimitives.WriteUInt32LittleEndian(c[BlkConfigOffsets.SegMax..], 128);
        BinaryPrimitives.WriteUInt16LittleEndian(c[BlkConfigOffsets.GeometryCylinders..], 1024);
        c[BlkConfigOffsets.GeometryHeads] = 16;
        c[BlkConfigOffsets.GeometrySectors] = 63;
        BinaryPrimitives.WriteUInt32LittleEndian(c[BlkConfigOffsets.BlkSize..], 4096);
        c[BlkConfigOffsets.PhysicalBlockExp] = 3;
        c[BlkConfigOffsets.AlignmentOffset] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(c[BlkConfigOffsets.MinIoSize..], 8);
        BinaryPrimitives.WriteUInt32LittleEndian(c[BlkConfigOffsets.OptIoSize..], 256);
        c[BlkConfigOffsets.Writeback] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(c[BlkConfigOffsets.NumQueues..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(c[BlkConfigOffsets.MaxDiscardSectors..], 1 << 22);
        BinaryPrimitives.WriteUInt32LittleEndian(c[BlkConfigOffsets.MaxDiscardSeg..], 32);
        BinaryPrimitives.WriteUInt32LittleEndian(c[BlkConfigOffsets.DiscardSectorAlignment..], 8);
        BinaryPrimitives.WriteUInt32LittleEndian(c[BlkConfigOffsets.MaxWriteZeroesSectors..], 1 << 21);
        BinaryPrimitives.WriteUInt32LittleEndian(c[BlkConfigOffsets.MaxWriteZeroesSeg..], 16);
        c[BlkConfigOffsets.WriteZeroesMayUnmap] = 1;
        return m;
    }

    [Fact]
    public void EveryFieldIsParsed()
    {
        VirtioBlkConfig c = BlkConfigReader.Read(Filled(), AllConfigFeatures, useGeneration: true);
        Assert.Equal(0x1_2345_6789UL, c.Capacity);
        Assert.Equal(65536u, c.SizeMax);
        Assert.Equal(128u, c.SegMax);
        Assert.Equal((ushort)1024, c.Cylinders);
        Assert.Equal((byte)16, c.Heads);
        Assert.Equal((byte)63, c.Sectors);
        Assert.Equal(4096u, c.BlkSize);
        Assert.Equal((byte)3, c.PhysicalBlockExp);
        Assert.Equal((byte)1, c.AlignmentOffset);
        Assert.Equal((ushort)8, c.MinIoSize);
        Assert.Equal(256u, c.OptIoSize);
        Assert.Equal((byte)1, c.Writeback);
        Assert.Equal((ushort)4, c.NumQueues);
        Assert.Equal(1u << 22, c.MaxDiscardSectors);
        Assert.Equal(32u, c.MaxDiscardSeg);
        Assert.Equal(8u, c.DiscardSectorAlignment);
        Assert.Equal(1u << 21, c.MaxWriteZeroesSectors);
        Assert.Equal(16u, c.MaxWriteZeroesSeg);
        Assert.Equal((byte)1, c.WriteZeroesMayUnmap);
    }

    [Fact]
    public void FieldsOfUnnegotiatedFeaturesAreNotRead()
    {
        FakeMmio m = Filled();
        VirtioBlkConfig c = BlkConfigReader.Read(m, 0, useGeneration: true);
        Assert.Equal(0x1_2345_6789UL, c.Capacity);
        Assert.Equal(0u, c.SegMax);
        Assert.Equal(512u, c.BlkSize);
        Assert.Equal((ushort)1, c.NumQueues);
        Assert.Equal(2, m.ConfigReads);
    }

    [Fact]
    public void AccessWidthsFollowTheFields()
    {
        FakeMmio m = Filled();
        BlkConfigReader.Read(m, AllConfigFeatures, useGeneration: true);
        var widths = m.Log.Where(e => !e.Write && e.Offset >= MmioRegisters.Config)
            .ToDictionary(e => (int)(e.Offset - MmioRegisters.Config), e => e.Width);
        Assert.Equal(4, widths[BlkConfigOffsets.Capacity]);
        Assert.Equal(4, widths[BlkConfigOffsets.Capacity + 4]);
        Assert.Equal(2, widths[BlkConfigOffsets.GeometryCylinders]);
        Assert.Equal(1, widths[BlkConfigOffsets.GeometryHeads]);
        Assert.Equal(1, widths[BlkConfigOffsets.Writeback]);
        Assert.Equal(2, widths[BlkConfigOffsets.NumQueues]);
        Assert.Equal(4, widths[BlkConfigOffsets.MaxWriteZeroesSeg]);
        Assert.Equal(1, widths[BlkConfigOffsets.WriteZeroesMayUnmap]);
    }

    [Fact]
    public void GenerationChangeMidReadIsRetriedAndTheNewValueWins()
    {
        FakeMmio m = Filled();
        // The device swaps in a new capacity while the first pass is reading: the driver must not mix the two.
        m.ChangeGenerationOnNextConfigReads = 1;
        m.CapacityAfterChange = 0x2_0000_0000UL;
        VirtioBlkConfig c = BlkConfigReader.Read(m, AllConfigFeatures, useGeneration: true);
        Assert.Equal(0x2_0000_0000UL, c.Capacity);
        // Two passes, each bracketed by two ConfigGeneration reads.
        Assert.Equal(4, m.Log.Count(e => !e.Write && e.Offset == MmioRegisters.ConfigGeneration));
    }

    [Fact]
    public void GenerationThatNeverSettlesFailsClearly()
    {
        FakeMmio m = Filled();
        m.ChangeGenerationOnNextConfigReads = int.MaxValue;
        var e = Assert.Throws<GuestDriverException>(() => BlkConfigReader.Read(m, AllConfigFeatures, useGeneration: true));
        Assert.Contains("ConfigGeneration", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SeedDocumentedConfigurationReadsBack()
    {
        var m = new FakeMmio();
        BinaryPrimitives.WriteUInt64LittleEndian(m.Config, 2048 * 1024);
        BinaryPrimitives.WriteUInt32LittleEndian(m.Config.AsSpan(BlkConfigOffsets.SizeMax), 65536);
        BinaryPrimitives.WriteUInt32LittleEndian(m.Config.AsSpan(BlkConfigOffsets.SegMax), 128);
        BinaryPrimitives.WriteUInt32LittleEndian(m.Config.AsSpan(BlkConfigOffsets.BlkSize), 512);
        VirtioBlkConfig c = BlkConfigReader.Read(m, BlkFeatures.SizeMax | BlkFeatures.SegMax | BlkFeatures.BlkSize, useGeneration: false);
        Assert.Equal(new VirtioBlkConfig { Capacity = 2048 * 1024, SizeMax = 65536, SegMax = 128, BlkSize = 512 }, c);
        Assert.DoesNotContain(m.Log, e => e.Offset == MmioRegisters.ConfigGeneration);
    }
}
