using VirtioScope.Block;
using VirtioScope.Testing;
using VirtioScope.Virtio;

namespace VirtioScope.Block.Tests;

public class ReadWriteTests
{
    private const ulong Features = VirtioFeatures.Version1 | BlkFeatures.Flush | BlkFeatures.SegMax | BlkFeatures.SizeMax;
    private const ulong Hdr = DeviceHarness.DataBase;
    private const ulong Data = DeviceHarness.DataBase + 0x1000;
    private const ulong Status = DeviceHarness.DataBase + 0x100;

    [Fact]
    public void Split_write_then_read_round_trips_with_correct_used_lengths()
    {
        using var h = new DeviceHarness();
        MockSplitRing ring = h.StartSplit(Features);
        h.Memory.WriteSpan(Data, 1024).Fill(0xAB);
        h.Header(Hdr, BlkRequestType.Out, 3);
        ring.Publish(ring.WriteChain(new Buf(Hdr, 16), new Buf(Data, 1024), new Buf(Status, 1, Write: true)));
        h.Notify();

        Assert.Equal(1, ring.UsedIdx);
        Assert.Equal(((uint)0, 1u), ring.Used(0));
        Assert.Equal((byte)BlkStatus.Ok, h.StatusAt(Status));
        Assert.True(h.Backend.Contents.Slice(3 * 512, 1024).ToArray().All(b => b == 0xAB));
        Assert.Equal(0, h.Backend.Contents[3 * 512 - 1]);

        h.Memory.WriteSpan(Data, 1024).Clear();
        h.Header(Hdr, BlkRequestType.In, 3);
        ushort head = ring.WriteChain(new Buf(Hdr, 16), new Buf(Data, 512, Write: true), new Buf(Data + 512, 512, Write: true), new Buf(Status, 1, Write: true));
        ring.Publish(head);
        h.Notify();

        Assert.Equal(2, ring.UsedIdx);
        Assert.Equal((head, 1025u), ring.Used(1));
        Assert.True(h.Memory.ReadSpan(Data, 1024).ToArray().All(b => b == 0xAB));
        Assert.Equal(2, h.Interrupts);
    }

    [Fact]
    public void Packed_write_then_read_round_trips()
    {
        using var h = new DeviceHarness();
        MockPackedRing ring = h.StartPacked(Features);
        h.Memory.WriteSpan(Data, 512).Fill(0x5A);
        h.Header(Hdr, BlkRequestType.Out, 7);
        ring.Add(42, new Buf(Hdr, 16), new Buf(Data, 512), new Buf(Status, 1, Write: true));
        h.Notify();
        Assert.True(ring.TryTakeUsed(3, out ushort id, out uint len));
        Assert.Equal((42, 1u), (id, len));
        Assert.Equal(0x5A, h.Backend.Contents[7 * 512 + 100]);

        h.Header(Hdr + 32, BlkRequestType.In, 7);
        ring.Add(9, new Buf(Hdr + 32, 16), new Buf(Data + 4096, 512, Write: true), new Buf(Status, 1, Write: true));
        h.Notify();
        Assert.True(ring.TryTakeUsed(3, out id, out len));
        Assert.Equal((9, 513u), (id, len));
        Assert.Equal(0x5A, h.Memory.ReadSpan(Data + 4096, 512)[511]);
    }
}
