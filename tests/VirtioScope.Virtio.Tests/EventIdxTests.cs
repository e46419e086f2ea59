using VirtioScope.Block;
using VirtioScope.Testing;
using VirtioScope.Virtio.Queues;

namespace VirtioScope.Virtio.Tests;

/// <summary>Notification and interrupt suppression exactly as spec 2.7.7/2.7.10 (split) and 2.8.10 (packed) say.</summary>
public class EventIdxTests
{
    private const ulong Hdr = DeviceHarness.DataBase;
    private const ulong Status = DeviceHarness.DataBase + 0x100;

    private static void PublishFlushes(DeviceHarness h, MockSplitRing ring, int count)
    {
        for (int i = 0; i < count; i++)
        {
            ulong hdr = Hdr + (ulong)i * 32;
            h.Header(hdr, BlkRequestType.Flush, 0);
            ring.Publish(ring.WriteChain(new Buf(hdr, 16), new Buf(Status + (ulong)i, 1, Write: true)));
        }
    }

    [Fact]
    public void Split_used_event_suppresses_until_the_index_passes_it()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(VirtioFeatures.Version1 | VirtioFeatures.RingEventIdx, size: 16);
        // The first batch always interrupts (no earlier signal to compare with).
        PublishFlushes(h, ring, 1);
        h.Notify();
        Assert.Equal(1, h.Interrupts);

        // Driver wants an interrupt only once used idx moves past 4: completions 2..4 must stay quiet.
        ring.SetUsedEvent(4);
        for (int i = 0; i < 3; i++)
        {
            PublishFlushes(h, ring, 1);
            h.Notify();
        }
        Assert.Equal(4, ring.UsedIdx);
        Assert.Equal(1, h.Interrupts);
        PublishFlushes(h, ring, 1);
        h.Notify();
        Assert.Equal(5, ring.UsedIdx);
        Assert.Equal(2, h.Interrupts);
        Assert.Equal(3, h.Transport.Statistics.InterruptsSuppressed);
    }

    [Fact]
    public void Split_batch_crossing_used_event_interrupts_once()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(VirtioFeatures.Version1 | VirtioFeatures.RingEventIdx, size: 16);
        PublishFlushes(h, ring, 1);
        h.Notify();
        ring.SetUsedEvent(2);
        PublishFlushes(h, ring, 5);
        h.Notify();
        Assert.Equal(6, ring.UsedIdx);
        Assert.Equal(2, h.Interrupts);
    }

    [Fact]
    public void Split_device_publishes_avail_event()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(VirtioFeatures.Version1 | VirtioFeatures.RingEventIdx, size: 16);
        PublishFlushes(h, ring, 3);
        h.Notify();
        Assert.Equal(3, ring.AvailEvent);
    }

    [Fact]
    public void Split_without_event_idx_honours_no_interrupt_flag_and_clears_no_notify()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(VirtioFeatures.Version1, size: 16);
        ring.SetAvailFlags(1);
        PublishFlushes(h, ring, 2);
        h.Notify();
        Assert.Equal(0, h.Interrupts);
        Assert.Equal(0, ring.UsedFlags);
        ring.SetAvailFlags(0);
        PublishFlushes(h, ring, 1);
        h.Notify();
        Assert.Equal(1, h.Interrupts);
    }

    [Fact]
    public void Split_used_index_wraps_with_event_idx()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(VirtioFeatures.Version1 | VirtioFeatures.RingEventIdx, size: 4);
        // Past 65535 the 16-bit indices wrap; asking for every completion must still interrupt every time.
        const int completions = 66_000;
        for (int i = 0; i < completions; i++)
        {
            ring.SetUsedEvent(ring.UsedIdx);
            PublishFlushes(h, ring, 1);
            h.Notify();
        }
        Assert.Equal(completions, h.Interrupts);
        Assert.Equal(unchecked((ushort)completions), ring.UsedIdx);
    }

    [Fact]
    public void Packed_driver_event_disable_enable_and_desc()
    {
        using var h = new DeviceHarness();
        MockPackedRing ring = h.StartPacked(VirtioFeatures.Version1 | VirtioFeatures.RingEventIdx, size: 8);
        void Flush(ushort id)
        {
            h.Header(Hdr + id * 32UL, BlkRequestType.Flush, 0);
            ring.Add(id, new Buf(Hdr + id * 32UL, 16), new Buf(Status + id, 1, Write: true));
        }

        ring.SetDriverEvent(PackedQueue.EventFlagDisable);
        Flush(0);
        h.Notify();
        Assert.Equal(0, h.Interrupts);
        ring.SetDriverEvent(PackedQueue.EventFlagEnable);
        Flush(1);
        h.Notify();
        Assert.Equal(1, h.Interrupts);

        // Used slots so far: 0..3 (two chains of two). Ask for an interrupt when slot 7 is used (wrap bit 1).
        ring.SetDriverEvent(PackedQueue.EventFlagDesc, 7 | 0x8000);
        Flush(2); // slots 4,5
        h.Notify();
        Assert.Equal(1, h.Interrupts);
        Flush(3); // slots 6,7
        h.Notify();
        Assert.Equal(2, h.Interrupts);
        // Next cycle (wrap 0): slot 1 of the second lap.
        ring.SetDriverEvent(PackedQueue.EventFlagDesc, 1);
        Flush(4); // slots 0,1 of lap 2
        h.Notify();
        Assert.Equal(3, h.Interrupts);
    }

    [Fact]
    public void Packed_device_publishes_its_event_suppression()
    {
        using var h = new DeviceHarness();
        MockPackedRing ring = h.StartPacked(VirtioFeatures.Version1 | VirtioFeatures.RingEventIdx, size: 8);
        h.Header(Hdr, BlkRequestType.Flush, 0);
        ring.Add(0, new Buf(Hdr, 16), new Buf(Status, 1, Write: true));
        h.Notify();
        Assert.Equal((ushort)(2 | 0x8000), ring.DeviceEvent.OffWrap);
        Assert.Equal(PackedQueue.EventFlagDesc, ring.DeviceEvent.Flags);

        using var h2 = new DeviceHarness();
        MockPackedRing ring2 = h2.StartPacked(VirtioFeatures.Version1, size: 8);
        h2.Header(Hdr, BlkRequestType.Flush, 0);
        ring2.Add(0, new Buf(Hdr, 16), new Buf(Status, 1, Write: true));
        h2.Notify();
        Assert.Equal(PackedQueue.EventFlagEnable, ring2.DeviceEvent.Flags);
    }
}
