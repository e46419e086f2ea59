using VirtioScope.Block;
using VirtioScope.Testing;
using VirtioScope.Virtio.Queues;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Virtio.Tests;

/// <summary>What a hostile guest can do to a queue, and the spec's answer: IOERR for a bad chain, NEEDS_RESET for a broken queue.</summary>
public class HostileQueueTests
{
    private const ulong Features = VirtioFeatures.Version1 | VirtioFeatures.RingIndirectDesc;
    private const ulong Hdr = DeviceHarness.DataBase;
    private const ulong Data = DeviceHarness.DataBase + 0x1000;
    private const ulong Status = DeviceHarness.DataBase + 0x100;

    [Fact]
    public void Descriptor_loop_completes_with_ioerr()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(Features, size: 8);
        h.Header(Hdr, BlkRequestType.In, 0);
        ring.SetDescriptor(0, Hdr, 16, DescriptorFlags.Next, 1);
        ring.SetDescriptor(1, Data, 512, DescriptorFlags.Next | DescriptorFlags.Write, 0); // back to the head
        ring.Publish(0);
        h.Notify();
        Assert.Equal(1, ring.UsedIdx);
        Assert.Equal(0u, ring.Used(0).Len); // no writable last byte could be found for a status
        Assert.Equal(DeviceStatus.None, h.Status & DeviceStatus.DeviceNeedsReset);
        Assert.Equal(1, h.Device.Statistics.Requests);
    }

    [Fact]
    public void Next_out_of_range_is_a_bad_request()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(Features, size: 8);
        ring.SetDescriptor(0, Hdr, 16, DescriptorFlags.Next, 200);
        ring.Publish(0);
        h.Notify();
        Assert.Equal(1, ring.UsedIdx);
        Assert.Equal(1, h.Device.Statistics.NoStatus);
    }

    [Fact]
    public void Malformed_chain_with_a_status_byte_gets_ioerr()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(Features, size: 8);
        h.Header(Hdr, BlkRequestType.In, 0);
        // Readable after writable: the spec forbids it.
        ushort head = ring.WriteChain(new Buf(Hdr, 16), new Buf(Data, 512, Write: true), new Buf(Data + 512, 512), new Buf(Status, 1, Write: true));
        ring.Publish(head);
        h.Memory.WriteSpan(Status, 1)[0] = 0xff;
        h.Notify();
        Assert.Equal((byte)BlkStatus.IoErr, h.StatusAt(Status));
        Assert.Equal(1u, ring.Used(0).Len);
    }

    [Theory]
    [InlineData(15u)]
    [InlineData(0u)]
    [InlineData(40u)]
    public void Indirect_table_with_bad_length_is_rejected(uint length)
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(Features, size: 8);
        ulong table = DeviceHarness.DataBase + 0x8000;
        ushort head = ring.WriteIndirect(table, new Buf(Hdr, 16), new Buf(Status, 1, Write: true));
        ring.SetDescriptor(head, table, length, DescriptorFlags.Indirect, 0);
        ring.Publish(head);
        h.Notify();
        Assert.Equal(1, ring.UsedIdx);
        Assert.Equal(1, h.Device.Statistics.NoStatus + h.Device.Statistics.StatusIoErr);
        Assert.Equal(-1, h.Backend.Contents.IndexOfAnyExcept((byte)0));
    }

    [Fact]
    public void Indirect_table_longer_than_the_queue_is_rejected()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(Features, size: 8);
        ulong table = DeviceHarness.DataBase + 0x8000;
        h.Header(Hdr, BlkRequestType.In, 0);
        var bufs = new List<Buf> { new(Hdr, 16) };
        for (int i = 0; i < 8; i++)
        {
            bufs.Add(new Buf(Data + (ulong)i * 512, 512, Write: true));
        }
        bufs.Add(new Buf(Status, 1, Write: true));
        ring.Publish(ring.WriteIndirect(table, [.. bufs]));
        h.Notify();
        Assert.Equal(1, ring.UsedIdx);
        Assert.Equal(0, h.Device.Statistics.BytesRead);
        Assert.Equal(0, h.Device.Statistics.StatusOk);
    }

    [Fact]
    public void Nested_indirect_is_rejected()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(Features, size: 8);
        ulong table = DeviceHarness.DataBase + 0x8000;
        ushort head = ring.WriteIndirect(table, new Buf(Hdr, 16), new Buf(Status, 1, Write: true));
        h.Memory.WriteU16(table + 12, (ushort)(DescriptorFlags.Indirect | DescriptorFlags.Next));
        ring.Publish(head);
        h.Notify();
        Assert.Equal(1, ring.UsedIdx);
        Assert.Equal((byte)BlkStatus.IoErr, h.StatusAt(Status));
    }

    [Fact]
    public void Indirect_without_the_feature_is_rejected_and_with_it_works()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(VirtioFeatures.Version1, size: 8);
        ulong table = DeviceHarness.DataBase + 0x8000;
        h.Header(Hdr, BlkRequestType.Flush, 0);
        ring.Publish(ring.WriteIndirect(table, new Buf(Hdr, 16), new Buf(Status, 1, Write: true)));
        h.Notify();
        Assert.Equal((byte)BlkStatus.IoErr, h.StatusAt(Status));

        using var h2 = new DeviceHarness();
        MockSplitRing ring2 = h2.StartSplit(Features, size: 8);
        h2.Header(Hdr, BlkRequestType.Flush, 0);
        h2.Memory.WriteSpan(Status, 1)[0] = 0xff;
        ring2.Publish(ring2.WriteIndirect(table, new Buf(Hdr, 16), new Buf(Status, 1, Write: true)));
        h2.Notify();
        Assert.Equal((byte)BlkStatus.Ok, h2.StatusAt(Status));
    }

    [Fact]
    public void Indirect_table_outside_memory_is_rejected()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(Features, size: 8);
        ring.SetDescriptor(0, 0x1000, 32, DescriptorFlags.Indirect, 0);
        ring.Publish(0);
        h.Notify();
        Assert.Equal(1, ring.UsedIdx);
        Assert.Equal(DeviceStatus.None, h.Status & DeviceStatus.DeviceNeedsReset);
    }

    [Fact]
    public void Buffer_outside_memory_gets_ioerr_and_never_reaches_the_backend()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(Features, size: 8);
        h.Header(Hdr, BlkRequestType.Out, 0);
        ring.Publish(ring.WriteChain(new Buf(Hdr, 16), new Buf(DeviceHarness.MemBase + DeviceHarness.MemSize - 256, 512), new Buf(Status, 1, Write: true)));
        h.Notify();
        Assert.Equal((byte)BlkStatus.IoErr, h.StatusAt(Status));
        Assert.Equal(0, h.Device.Statistics.BytesWritten);
    }

    [Fact]
    public void Avail_index_jump_breaks_the_queue_with_needs_reset_and_config_interrupt()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(Features, size: 8);
        ring.SetAvailIdx(100);
        h.Notify();
        Assert.NotEqual(DeviceStatus.None, h.Status & DeviceStatus.DeviceNeedsReset);
        Assert.Equal(MmioRegisters.InterruptConfigChange, h.Read(MmioRegisters.InterruptStatus) & MmioRegisters.InterruptConfigChange);
        Assert.Equal(0, ring.UsedIdx);
        // Further notifications are ignored until the driver resets.
        h.Notify();
        Assert.Equal(1, h.Transport.Statistics.NeedsResetCount);
        h.Write(MmioRegisters.Status, 0);
        Assert.Equal(DeviceStatus.None, h.Status);
    }

    [Fact]
    public void Head_index_out_of_range_breaks_the_queue()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(Features, size: 8);
        ring.Publish(9);
        h.Notify();
        Assert.NotEqual(DeviceStatus.None, h.Status & DeviceStatus.DeviceNeedsReset);
    }

    [Theory]
    [InlineData((ushort)6)]
    [InlineData((ushort)512)]
    public void Bad_queue_size_breaks_the_device_at_driver_ok(ushort size)
    {
        using var h = new DeviceHarness();
        Assert.True(h.Negotiate(Features));
        var ring = new MockSplitRing(h.Memory, DeviceHarness.RingBase, size);
        h.SetupQueue(0, ring.Layout);
        h.DriverOk();
        Assert.NotEqual(DeviceStatus.None, h.Status & DeviceStatus.DeviceNeedsReset);
        Assert.Null(h.Transport.Queue(0));
    }

    [Fact]
    public void Non_power_of_two_size_is_fine_for_packed()
    {
        using var h = new DeviceHarness();
        MockPackedRing ring = h.StartPacked(Features, size: 6);
        Assert.NotNull(h.Transport.Queue(0));
        _ = ring;
    }

    [Fact]
    public void Rings_outside_memory_or_overlapping_break_the_device()
    {
        using var h = new DeviceHarness();
        Assert.True(h.Negotiate(Features));
        h.SetupQueue(0, new QueueLayout(RingFormat.Split, 8, 0x1000, 0x2000, 0x3000));
        h.DriverOk();
        Assert.NotEqual(DeviceStatus.None, h.Status & DeviceStatus.DeviceNeedsReset);

        using var h2 = new DeviceHarness();
        Assert.True(h2.Negotiate(Features));
        ulong b = DeviceHarness.RingBase;
        h2.SetupQueue(0, new QueueLayout(RingFormat.Split, 8, b, b + 64, b + 0x1000));
        h2.DriverOk();
        Assert.NotEqual(DeviceStatus.None, h2.Status & DeviceStatus.DeviceNeedsReset);
    }

    [Fact]
    public void Packed_chain_longer_than_the_ring_breaks_the_queue()
    {
        using var h = new DeviceHarness();
        MockPackedRing ring = h.StartPacked(Features, size: 4);
        for (int i = 0; i < 4; i++)
        {
            ring.AddRaw(Hdr, 16, 1, DescriptorFlags.Next);
        }
        // The ring wrapped: slot 0 now has the wrong wrap bits, so the chain never ends inside the ring.
        h.Notify();
        Assert.NotEqual(DeviceStatus.None, h.Status & DeviceStatus.DeviceNeedsReset);
    }

    [Fact]
    public void Legacy_driver_ok_with_refused_features_needs_reset()
    {
        using var h = new DeviceHarness(version: MmioVersion.Legacy);
        h.Write(MmioRegisters.Status, 1);
        h.Write(MmioRegisters.Status, 3);
        h.Write(MmioRegisters.DriverFeaturesSel, 0);
        h.Write(MmioRegisters.DriverFeatures, (uint)BlkFeatures.ConfigWce);
        h.Write(MmioRegisters.Status, 7);
        Assert.NotEqual(DeviceStatus.None, h.Status & DeviceStatus.DeviceNeedsReset);
    }

    [Fact]
    public void Device_error_from_a_broken_backend_becomes_needs_reset_not_an_exception()
    {
        using var memory = Memory.GuestMemory.Create(DeviceHarness.MemBase, DeviceHarness.MemSize);
        var device = new BlockDevice(new ThrowingBackend());
        var transport = new MmioTransport(device, memory);
        var h = new RegisterDriver(transport);
        MockSplitRing ring = h.Start(memory);
        memory.WriteU32(Hdr, (uint)BlkRequestType.In);
        ring.Publish(ring.WriteChain(new Buf(Hdr, 16), new Buf(Data, 512, Write: true), new Buf(Status, 1, Write: true)));
        transport.Write(MmioRegisters.QueueNotify, 4, 0);
        Assert.NotEqual(DeviceStatus.None, transport.Status & DeviceStatus.DeviceNeedsReset);
    }

    private sealed class RegisterDriver(MmioTransport t)
    {
        public MockSplitRing Start(Memory.GuestMemory memory)
        {
            t.Write(MmioRegisters.Status, 4, 1);
            t.Write(MmioRegisters.Status, 4, 3);
            t.Write(MmioRegisters.DriverFeaturesSel, 4, 1);
            t.Write(MmioRegisters.DriverFeatures, 4, 1);
            t.Write(MmioRegisters.Status, 4, 11);
            var ring = new MockSplitRing(memory, DeviceHarness.RingBase, 8);
            t.Write(MmioRegisters.QueueNum, 4, 8);
            t.Write(MmioRegisters.QueueDescLow, 4, (uint)ring.Layout.DescTable);
            t.Write(MmioRegisters.QueueDriverLow, 4, (uint)ring.Layout.DriverArea);
            t.Write(MmioRegisters.QueueDeviceLow, 4, (uint)ring.Layout.DeviceArea);
            t.Write(MmioRegisters.QueueReady, 4, 1);
            t.Write(MmioRegisters.Status, 4, 15);
            return ring;
        }
    }

    private sealed class ThrowingBackend : IBlockBackend
    {
        public long Size => 1 << 20;
        public bool IsReadOnly => false;
        public BlockCapabilities Capabilities => BlockCapabilities.None;
        public void Read(long offset, Span<byte> destination) => throw new InvalidOperationException("backend bug");
        public void Write(long offset, ReadOnlySpan<byte> source) => throw new InvalidOperationException("backend bug");
        public void Flush() { }
        public void Discard(long offset, long length) { }
        public void WriteZeroes(long offset, long length, ZeroingMode mode) { }
        public void Dispose() { }
    }
}
