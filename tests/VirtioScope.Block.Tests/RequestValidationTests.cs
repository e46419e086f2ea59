using System.Buffers.Binary;
using VirtioScope.Block;
using VirtioScope.Testing;
using VirtioScope.Virtio;

namespace VirtioScope.Block.Tests;

/// <summary>Spec 5.2.6: every request is validated before the backend sees it.</summary>
public class RequestValidationTests
{
    private const ulong All = VirtioFeatures.Version1 | VirtioFeatures.RingIndirectDesc | BlkFeatures.Flush | BlkFeatures.SegMax
        | BlkFeatures.SizeMax | BlkFeatures.Discard | BlkFeatures.WriteZeroes;
    private const ulong Hdr = DeviceHarness.DataBase;
    private const ulong Data = DeviceHarness.DataBase + 0x1000;
    private const ulong Status = DeviceHarness.DataBase + 0x100;

    private static (byte Status, uint Used) Submit(DeviceHarness h, MockSplitRing ring, params Buf[] chain)
    {
        h.Memory.WriteSpan(Status, 1)[0] = 0xee;
        int before = ring.UsedIdx;
        ring.Publish(ring.WriteChain(chain));
        h.Notify();
        Assert.Equal(before + 1, ring.UsedIdx);
        return (h.StatusAt(Status), ring.Used(before).Len);
    }

    [Fact]
    public void Header_must_be_device_readable()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(All);
        h.Header(Hdr, BlkRequestType.In, 0);
        Assert.Equal(((byte)BlkStatus.IoErr, 1u), Submit(h, ring, new Buf(Hdr, 16, Write: true), new Buf(Data, 512, Write: true), new Buf(Status, 1, Write: true)));
    }

    [Fact]
    public void Header_may_span_descriptors()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(All);
        h.Header(Hdr, BlkRequestType.In, 1);
        h.Backend.Contents[512] = 0x77;
        Assert.Equal(((byte)BlkStatus.Ok, 513u), Submit(h, ring, new Buf(Hdr, 8), new Buf(Hdr + 8, 8), new Buf(Data, 512, Write: true), new Buf(Status, 1, Write: true)));
        Assert.Equal(0x77, h.Memory.ReadSpan(Data, 1)[0]);
    }

    [Fact]
    public void Status_in_a_larger_last_descriptor_is_its_last_byte()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(All);
        h.Header(Hdr, BlkRequestType.In, 0);
        h.Backend.Contents[..512].Fill(3);
        ring.Publish(ring.WriteChain(new Buf(Hdr, 16), new Buf(Data, 513, Write: true)));
        h.Notify();
        Assert.Equal((byte)BlkStatus.Ok, h.Memory.ReadSpan(Data + 512, 1)[0]);
        Assert.Equal(3, h.Memory.ReadSpan(Data + 511, 1)[0]);
        Assert.Equal(513u, ring.Used(0).Len);
    }

    [Fact]
    public void Read_only_status_descriptor_gets_no_status_and_zero_used_length()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(All);
        h.Header(Hdr, BlkRequestType.Flush, 0);
        Assert.Equal(((byte)0xee, 0u), Submit(h, ring, new Buf(Hdr, 16), new Buf(Status, 1)));
        Assert.Equal(1, h.Device.Statistics.NoStatus);
    }

    [Theory]
    [InlineData(BlkRequestType.In, false)]
    [InlineData(BlkRequestType.Out, true)]
    [InlineData(BlkRequestType.GetId, false)]
    public void Data_direction_must_match_the_type(BlkRequestType type, bool writable)
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(All);
        h.Header(Hdr, type, 0);
        Assert.Equal(((byte)BlkStatus.IoErr, 1u), Submit(h, ring, new Buf(Hdr, 16), new Buf(Data, 512, writable), new Buf(Status, 1, Write: true)));
        Assert.Equal(0, h.Device.Statistics.BytesRead + h.Device.Statistics.BytesWritten);
    }

    [Theory]
    [InlineData(511u)]
    [InlineData(513u)]
    [InlineData(0u)]
    public void Length_must_be_a_nonzero_multiple_of_512(uint length)
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(All);
        h.Header(Hdr, BlkRequestType.Out, 0);
        Buf[] chain = length == 0
            ? [new Buf(Hdr, 16), new Buf(Status, 1, Write: true)]
            : [new Buf(Hdr, 16), new Buf(Data, length), new Buf(Status, 1, Write: true)];
        Assert.Equal((byte)BlkStatus.IoErr, Submit(h, ring, chain).Status);
    }

    [Theory]
    [InlineData(2047UL, (byte)BlkStatus.Ok)]
    [InlineData(2048UL, (byte)BlkStatus.IoErr)]
    [InlineData(ulong.MaxValue, (byte)BlkStatus.IoErr)]
    public void Sector_range_must_be_inside_capacity(ulong sector, byte expected)
    {
        using var h = new DeviceHarness(diskBytes: 1 << 20);
        MockSplitRing ring = h.StartSplit(All);
        h.Header(Hdr, BlkRequestType.In, sector);
        Assert.Equal(expected, Submit(h, ring, new Buf(Hdr, 16), new Buf(Data, 512, Write: true), new Buf(Status, 1, Write: true)).Status);
    }

    [Fact]
    public void Seg_max_and_size_max_are_enforced_when_negotiated()
    {
        using var h = new DeviceHarness(new BlockDeviceOptions { SegMax = 2, SizeMax = 1024 });
        MockSplitRing ring = h.StartSplit(All);
        h.Header(Hdr, BlkRequestType.In, 0);
        Assert.Equal((byte)BlkStatus.IoErr, Submit(h, ring, new Buf(Hdr, 16), new Buf(Data, 512, true), new Buf(Data + 512, 512, true), new Buf(Data + 1024, 512, true), new Buf(Status, 1, Write: true)).Status);
        Assert.Equal((byte)BlkStatus.IoErr, Submit(h, ring, new Buf(Hdr, 16), new Buf(Data, 2048, true), new Buf(Status, 1, Write: true)).Status);
        Assert.Equal((byte)BlkStatus.Ok, Submit(h, ring, new Buf(Hdr, 16), new Buf(Data, 1024, true), new Buf(Data + 1024, 1024, true), new Buf(Status, 1, Write: true)).Status);
    }

    [Fact]
    public void Writes_to_a_read_only_device_never_reach_the_backend()
    {
        using var h = new DeviceHarness(readOnly: true);
        MockSplitRing ring = h.StartSplit(All | BlkFeatures.ReadOnly);
        h.Header(Hdr, BlkRequestType.Out, 0);
        h.Memory.WriteSpan(Data, 512).Fill(1);
        Assert.Equal((byte)BlkStatus.IoErr, Submit(h, ring, new Buf(Hdr, 16), new Buf(Data, 512), new Buf(Status, 1, Write: true)).Status);
        WriteRange(h, Data, 0, 8, 0);
        h.Header(Hdr, BlkRequestType.WriteZeroes, 0);
        Assert.Equal((byte)BlkStatus.IoErr, Submit(h, ring, new Buf(Hdr, 16), new Buf(Data, 16), new Buf(Status, 1, Write: true)).Status);
        Assert.Equal(-1, h.Backend.Contents.IndexOfAnyExcept((byte)0));
    }

    [Theory]
    [InlineData(3u)]
    [InlineData(10u)]
    [InlineData(14u)]
    [InlineData(99u)]
    public void Unknown_or_unoffered_types_are_unsupported(uint type)
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(All);
        h.Memory.WriteU32(Hdr, type);
        Assert.Equal(((byte)BlkStatus.Unsupp, 1u), Submit(h, ring, new Buf(Hdr, 16), new Buf(Status, 1, Write: true)));
    }

    [Fact]
    public void Discard_and_write_zeroes_need_their_features()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(VirtioFeatures.Version1);
        WriteRange(h, Data, 0, 8, 0);
        h.Header(Hdr, BlkRequestType.Discard, 0);
        Assert.Equal((byte)BlkStatus.Unsupp, Submit(h, ring, new Buf(Hdr, 16), new Buf(Data, 16), new Buf(Status, 1, Write: true)).Status);
        h.Header(Hdr, BlkRequestType.WriteZeroes, 0);
        Assert.Equal((byte)BlkStatus.Unsupp, Submit(h, ring, new Buf(Hdr, 16), new Buf(Data, 16), new Buf(Status, 1, Write: true)).Status);
    }

    [Fact]
    public void Get_id_returns_the_serial_and_counts_written_bytes()
    {
        using var h = new DeviceHarness(new BlockDeviceOptions { Serial = "SERIAL-123" });
        MockSplitRing ring = h.StartSplit(All);
        h.Header(Hdr, BlkRequestType.GetId, 0);
        h.Memory.WriteSpan(Data, 20).Fill(0xff);
        Assert.Equal(((byte)BlkStatus.Ok, 21u), Submit(h, ring, new Buf(Hdr, 16), new Buf(Data, 20, Write: true), new Buf(Status, 1, Write: true)));
        byte[] id = h.Memory.ReadSpan(Data, 20).ToArray();
        Assert.Equal("SERIAL-123"u8.ToArray(), id[..10]);
        Assert.All(id[10..], b => Assert.Equal(0, b));
    }

    private static void WriteRange(DeviceHarness h, ulong at, ulong sector, uint sectors, uint flags)
    {
        Span<byte> raw = h.Memory.WriteSpan(at, 16);
        BinaryPrimitives.WriteUInt64LittleEndian(raw, sector);
        BinaryPrimitives.WriteUInt32LittleEndian(raw[8..], sectors);
        BinaryPrimitives.WriteUInt32LittleEndian(raw[12..], flags);
    }

    [Fact]
    public void Write_zeroes_and_discard_clear_ranges()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(All);
        h.Backend.Contents.Fill(9);
        WriteRange(h, Data, 2, 2, 0);
        WriteRange(h, Data + 16, 10, 1, BlkLayout.SegmentFlagUnmap);
        h.Header(Hdr, BlkRequestType.WriteZeroes, 0);
        Assert.Equal(((byte)BlkStatus.Ok, 1u), Submit(h, ring, new Buf(Hdr, 16), new Buf(Data, 24), new Buf(Data + 24, 8), new Buf(Status, 1, Write: true)));
        Assert.Equal(9, h.Backend.Contents[1023]);
        Assert.Equal(-1, h.Backend.Contents.Slice(1024, 1024).IndexOfAnyExcept((byte)0));
        Assert.Equal(9, h.Backend.Contents[2048]);
        Assert.Equal(-1, h.Backend.Contents.Slice(5120, 512).IndexOfAnyExcept((byte)0));

        WriteRange(h, Data, 20, 1, 0);
        h.Header(Hdr, BlkRequestType.Discard, 0);
        Assert.Equal((byte)BlkStatus.Ok, Submit(h, ring, new Buf(Hdr, 16), new Buf(Data, 16), new Buf(Status, 1, Write: true)).Status);
    }

    [Theory]
    [InlineData(BlkRequestType.Discard, BlkLayout.SegmentFlagUnmap, (byte)BlkStatus.Unsupp)]
    [InlineData(BlkRequestType.WriteZeroes, 2u, (byte)BlkStatus.Unsupp)]
    [InlineData(BlkRequestType.WriteZeroes, BlkLayout.SegmentFlagUnmap, (byte)BlkStatus.Ok)]
    public void Range_flags_are_checked(BlkRequestType type, uint flags, byte expected)
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(All);
        WriteRange(h, Data, 0, 1, flags);
        h.Header(Hdr, type, 0);
        Assert.Equal(expected, Submit(h, ring, new Buf(Hdr, 16), new Buf(Data, 16), new Buf(Status, 1, Write: true)).Status);
    }

    [Theory]
    [InlineData(0UL, 2049u, 1)]
    [InlineData(2047UL, 2u, 1)]
    [InlineData(0UL, 1u, 33)]
    public void Range_lists_over_limits_are_ioerr(ulong sector, uint sectors, int count)
    {
        using var h = new DeviceHarness(new BlockDeviceOptions { MaxWriteZeroesSectors = 4096 });
        MockSplitRing ring = h.StartSplit(All);
        for (int i = 0; i < count; i++)
        {
            WriteRange(h, Data + (ulong)(16 * i), sector, sectors, 0);
        }
        h.Header(Hdr, BlkRequestType.WriteZeroes, 0);
        Assert.Equal((byte)BlkStatus.IoErr, Submit(h, ring, new Buf(Hdr, 16), new Buf(Data, (uint)(16 * count)), new Buf(Status, 1, Write: true)).Status);
    }

    [Fact]
    public void Write_through_flushes_after_each_write()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(VirtioFeatures.Version1);
        h.Header(Hdr, BlkRequestType.Out, 0);
        Submit(h, ring, new Buf(Hdr, 16), new Buf(Data, 512), new Buf(Status, 1, Write: true));
        Assert.Equal(1, h.Device.Statistics.Flushes);
    }

    [Fact]
    public void Multiqueue_processes_each_queue()
    {
        using var h = new DeviceHarness(new BlockDeviceOptions { NumQueues = 2 });
        Assert.NotEqual(0UL, h.DeviceFeatures() & BlkFeatures.Mq);
        Assert.True(h.Negotiate(All | BlkFeatures.Mq));
        var q0 = new MockSplitRing(h.Memory, DeviceHarness.RingBase, 8);
        var q1 = new MockSplitRing(h.Memory, DeviceHarness.RingBase + 0x2000, 8);
        h.SetupQueue(0, q0.Layout);
        h.SetupQueue(1, q1.Layout);
        h.DriverOk();
        Assert.Equal(2u, h.Transport.Read(MmioRegisters.Config + BlkConfigOffsets.NumQueues, 2));
        h.Header(Hdr, BlkRequestType.Flush, 0);
        q1.Publish(q1.WriteChain(new Buf(Hdr, 16), new Buf(Status, 1, Write: true)));
        h.Notify(1);
        Assert.Equal(1, q1.UsedIdx);
        Assert.Equal(0, q0.UsedIdx);
    }
}
