using VirtioScope.Block;
using VirtioScope.Testing;
using VirtioScope.Virtio;
using VirtioScope.Virtio.Events;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Virtio.Tests;

public class TransportRegisterTests
{
    [Theory]
    [InlineData(MmioVersion.Modern, 2u)]
    [InlineData(MmioVersion.Legacy, 1u)]
    public void Identification_registers(MmioVersion version, uint expectedVersion)
    {
        using var h = new DeviceHarness(version: version);
        Assert.Equal(0x74726976u, h.Read(MmioRegisters.MagicValue));
        Assert.Equal(expectedVersion, h.Read(MmioRegisters.Version));
        Assert.Equal(2u, h.Read(MmioRegisters.DeviceId));
        Assert.Equal(0x50435356u, h.Read(MmioRegisters.VendorId));
        Assert.Equal(256u, h.Read(MmioRegisters.QueueNumMax));
    }

    [Fact]
    public void Modern_device_offers_version_1_and_packed_in_the_high_word()
    {
        using var h = new DeviceHarness();
        ulong f = h.DeviceFeatures();
        Assert.NotEqual(0UL, f & VirtioFeatures.Version1);
        Assert.NotEqual(0UL, f & VirtioFeatures.RingPacked);
        Assert.NotEqual(0UL, f & VirtioFeatures.RingEventIdx);
        Assert.Equal(0UL, f & BlkFeatures.ReadOnly);
        Assert.Equal(0UL, f & BlkFeatures.Mq); // one queue: MQ is not offered
        h.Write(MmioRegisters.DeviceFeaturesSel, 2);
        Assert.Equal(0u, h.Read(MmioRegisters.DeviceFeatures));
    }

    [Fact]
    public void Config_wce_is_not_offered_without_flush()
    {
        using var h = new DeviceHarness(new BlockDeviceOptions { Features = BlockDeviceOptions.SupportedFeatures & ~BlkFeatures.Flush });
        Assert.Equal(0UL, h.DeviceFeatures() & BlkFeatures.ConfigWce);
    }

    [Fact]
    public void Legacy_device_offers_nothing_above_bit_31()
    {
        using var h = new DeviceHarness(version: MmioVersion.Legacy);
        Assert.Equal(0UL, h.DeviceFeatures() >> 32);
    }

    [Fact]
    public void Read_only_backend_offers_RO()
    {
        using var h = new DeviceHarness(readOnly: true);
        Assert.NotEqual(0UL, h.DeviceFeatures() & BlkFeatures.ReadOnly);
    }

    [Fact]
    public void Features_ok_is_refused_for_unoffered_bits()
    {
        using var h = new DeviceHarness(new BlockDeviceOptions { Features = VirtioFeatures.Version1 | BlkFeatures.Flush });
        Assert.False(h.Negotiate(VirtioFeatures.Version1 | BlkFeatures.Discard));
        Assert.Equal(DeviceStatus.Acknowledge | DeviceStatus.Driver, h.Status);
        Assert.True(h.Negotiate(VirtioFeatures.Version1 | BlkFeatures.Flush));
    }

    [Fact]
    public void Features_ok_is_refused_without_version_1_on_a_modern_device()
    {
        using var h = new DeviceHarness();
        Assert.False(h.Negotiate(BlkFeatures.Flush));
    }

    [Fact]
    public void Features_ok_is_refused_for_a_combination_the_device_cannot_honour()
    {
        using var h = new DeviceHarness();
        Assert.False(h.Negotiate(VirtioFeatures.Version1 | BlkFeatures.ConfigWce));
        Assert.True(h.Negotiate(VirtioFeatures.Version1 | BlkFeatures.ConfigWce | BlkFeatures.Flush));
    }

    [Fact]
    public void Status_bits_out_of_order_are_refused()
    {
        using var h = new DeviceHarness();
        h.Write(MmioRegisters.Status, (uint)DeviceStatus.Driver);
        Assert.Equal(DeviceStatus.None, h.Status);
        h.Write(MmioRegisters.Status, (uint)DeviceStatus.Acknowledge);
        h.Write(MmioRegisters.Status, (uint)(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.DriverOk));
        Assert.Equal(DeviceStatus.Acknowledge | DeviceStatus.Driver, h.Status);
        Assert.True(h.Transport.Statistics.Faults > 0);
    }

    [Fact]
    public void Clearing_status_bits_is_ignored_and_zero_resets()
    {
        using var h = new DeviceHarness();
        Assert.True(h.Negotiate(VirtioFeatures.Version1));
        h.Write(MmioRegisters.Status, (uint)DeviceStatus.Acknowledge);
        Assert.Equal(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk, h.Status);
        h.Write(MmioRegisters.Status, 0);
        Assert.Equal(DeviceStatus.None, h.Status);
        Assert.Equal(0UL, h.Transport.DriverFeatures);
    }

    [Fact]
    public void Failed_can_be_set_at_any_time()
    {
        using var h = new DeviceHarness();
        h.Write(MmioRegisters.Status, (uint)(DeviceStatus.Acknowledge | DeviceStatus.Failed));
        Assert.Equal(DeviceStatus.Acknowledge | DeviceStatus.Failed, h.Status);
    }

    [Fact]
    public void Driver_features_cannot_change_after_features_ok()
    {
        using var h = new DeviceHarness();
        Assert.True(h.Negotiate(VirtioFeatures.Version1));
        h.Write(MmioRegisters.DriverFeaturesSel, 0);
        h.Write(MmioRegisters.DriverFeatures, (uint)BlkFeatures.Flush);
        Assert.Equal(VirtioFeatures.Version1, h.Transport.DriverFeatures);
    }

    [Fact]
    public void Queue_registers_round_trip_and_lock_while_ready()
    {
        using var h = new DeviceHarness();
        Assert.True(h.Negotiate(VirtioFeatures.Version1));
        var ring = new MockSplitRing(h.Memory, DeviceHarness.RingBase, 8);
        h.SetupQueue(0, ring.Layout);
        Assert.Equal(1u, h.Read(MmioRegisters.QueueReady));
        h.Write(MmioRegisters.QueueNum, 4);
        Assert.Equal(8, h.Transport.GetQueueInfo(0).Num);
        h.Write(MmioRegisters.QueueSel, 5);
        Assert.Equal(0u, h.Read(MmioRegisters.QueueNumMax));
        Assert.Equal(0u, h.Read(MmioRegisters.QueueReady));
    }

    [Fact]
    public void Write_only_and_read_only_registers_are_ignored_with_a_fault()
    {
        using var h = new DeviceHarness();
        var faults = new List<string>();
        h.Transport.Events.SubscribeFaults(f => faults.Add(f.Message));
        Assert.Equal(0u, h.Read(MmioRegisters.QueueNotify));
        h.Write(MmioRegisters.MagicValue, 1);
        h.Write(MmioRegisters.DeviceId, 7);
        Assert.Equal(2u, h.Read(MmioRegisters.DeviceId));
        Assert.Equal(3, faults.Count);
        Assert.Contains("write-only", faults[0]);
        Assert.Contains("read-only", faults[1]);
    }

    [Theory]
    [InlineData(0x001, 4)]
    [InlineData(0x000, 2)]
    [InlineData(0x000, 1)]
    [InlineData(0x000, 8)]
    [InlineData(0x0f0, 4)]
    [InlineData(0x1000, 4)]
    public void Bad_offsets_and_widths_read_zero(ulong offset, int width)
    {
        using var h = new DeviceHarness();
        Assert.Equal(0u, h.Transport.Read(offset, width));
        h.Transport.Write(offset, width, 0xffff_ffff);
        Assert.Equal(2, h.Transport.Statistics.Faults);
    }

    [Fact]
    public void Shared_memory_registers_report_no_regions()
    {
        using var h = new DeviceHarness();
        h.Write(MmioRegisters.ShmSel, 0);
        Assert.Equal(uint.MaxValue, h.Read(MmioRegisters.ShmLenLow));
        Assert.Equal(uint.MaxValue, h.Read(MmioRegisters.ShmLenHigh));
    }

    [Fact]
    public void Interrupt_ack_clears_bits()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(VirtioFeatures.Version1);
        h.Header(DeviceHarness.DataBase, Block.BlkRequestType.Flush, 0);
        ring.Publish(ring.WriteChain(new Buf(DeviceHarness.DataBase, 16), new Buf(DeviceHarness.DataBase + 64, 1, Write: true)));
        h.Notify();
        Assert.Equal(1u, h.Read(MmioRegisters.InterruptStatus));
        Assert.True(h.Transport.InterruptLevel);
        h.Write(MmioRegisters.InterruptAck, 1);
        Assert.Equal(0u, h.Read(MmioRegisters.InterruptStatus));
    }

    [Fact]
    public void Queue_reset_needs_the_feature_and_disables_the_queue()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(VirtioFeatures.Version1);
        h.Write(MmioRegisters.QueueReset, 1);
        Assert.NotNull(h.Transport.Queue(0));

        using var h2 = new DeviceHarness();
        h2.StartSplit(VirtioFeatures.Version1 | VirtioFeatures.RingReset);
        h2.Write(MmioRegisters.QueueSel, 0);
        h2.Write(MmioRegisters.QueueReset, 1);
        Assert.Null(h2.Transport.Queue(0));
        Assert.Equal(0u, h2.Read(MmioRegisters.QueueReset));
        Assert.Equal(0u, h2.Read(MmioRegisters.QueueReady));
        // Re-enable while running: the queue comes back live.
        var again = new MockSplitRing(h2.Memory, DeviceHarness.RingBase + 0x2000, 8);
        h2.SetupQueue(0, again.Layout);
        Assert.NotNull(h2.Transport.Queue(0));
        _ = ring;
    }

    [Fact]
    public void Events_report_register_accesses_and_status_changes()
    {
        using var h = new DeviceHarness();
        var events = new List<VirtioEvent>();
        using IDisposable sub = h.Transport.Events.Subscribe(events.Add);
        h.Write(MmioRegisters.Status, 1);
        Assert.Contains(events, e => e is MmioAccessEvent { Register: "Status", IsWrite: true, Value: 1 });
        Assert.Contains(events, e => e is StatusChangeEvent { New: DeviceStatus.Acknowledge });
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
    }
}

public class MmioBusTests
{
    [Fact]
    public void Bus_routes_by_base_address_and_window_size()
    {
        using var h = new DeviceHarness();
        var bus = new MmioBus();
        bus.Map(h.Transport);
        Assert.Equal(0x74726976u, bus.Read(MmioRegisters.DefaultBase, 4));
        Assert.Equal(2u, bus.Read(MmioRegisters.DefaultBase + MmioRegisters.DeviceId, 4));
        Assert.Equal(uint.MaxValue, bus.Read(MmioRegisters.DefaultBase + MmioRegisters.DefaultSize, 4));
        Assert.Equal(0xffu, bus.Read(0x1000, 1));
        Assert.Throws<ArgumentException>(() => bus.Map(MmioRegisters.DefaultBase + 0x100, 0x100, h.Transport));
        Assert.Equal(2u, bus.Window(MmioRegisters.DefaultBase).Read(MmioRegisters.DeviceId, 4));
    }

    [Fact]
    public void Window_size_bounds_config_space()
    {
        using var memory = Memory.GuestMemory.Create(DeviceHarness.MemBase, DeviceHarness.MemSize);
        var t = new MmioTransport(new BlockDevice(new MemoryBackend(1 << 20)), memory, new MmioTransportOptions { WindowSize = 0x104, BaseAddress = 0x1000_0000 });
        Assert.Equal(2048u, t.Read(MmioRegisters.Config, 4));
        Assert.Equal(0u, t.Read(MmioRegisters.Config + 4, 4));
        Assert.Equal(1, t.Statistics.Faults);
    }
}
