using System.Buffers.Binary;
using VirtioScope.Block;
using VirtioScope.Testing;
using VirtioScope.VhostUser.Protocol;
using VirtioScope.Virtio.Queues;

namespace VirtioScope.VhostUser.Tests;

/// <summary>Requests through real rings in memfd memory, kicked and completed through eventfds, as with QEMU.</summary>
public sealed class RingTests
{
    private static byte[] Pattern(int length, int seed)
    {
        byte[] b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    [Fact]
    public void SplitRingWritesAndReadsThroughTheFrontendsMemory()
    {
        using var server = new ServerFixture();
        using var fe = new Frontend(server);
        var ring = new MockSplitRing(fe.Guest.Memory, Frontend.RingBase, 16);
        Assert.Equal(0UL, fe.StartRing(0, ring.Layout));

        byte[] data = Pattern(4096, 1);
        ulong w = Frontend.DataBase;
        Buf[] write = fe.Request(w, BlkRequestType.Out, 8, 4096);
        fe.Guest.Memory.Write(w + 16, data);
        ring.Publish(ring.WriteChain(write));
        fe.Kicks[0].Signal();
        Assert.True(fe.Calls[0].Wait(), "no used-buffer notification for the write");
        Assert.Equal(0, fe.Status(w, 4096));
        Assert.Equal(data, server.Disk.Contents.Slice(8 * 512, 4096).ToArray());

        ulong r = Frontend.DataBase + 0x2000;
        ring.Publish(ring.WriteChain(fe.Request(r, BlkRequestType.In, 8, 4096)));
        // Event idx is negotiated: like a waiting driver, ask for an interrupt once the device passes the next entry.
        ring.SetUsedEvent(ring.UsedIdx);
        fe.Kicks[0].Signal();
        Assert.True(fe.Calls[0].Wait(), "no used-buffer notification for the read");
        Assert.Equal(0, fe.Status(r, 4096));
        Assert.Equal(data, fe.Guest.Memory.ReadSpan(r + 16, 4096).ToArray());
        Assert.Equal((ushort)2, ring.UsedIdx);
        Assert.Equal(4097u, ring.Used(1).Len);
    }

    [Fact]
    public void StoppedRingReportsItsPositionAndResumesThere()
    {
        using var server = new ServerFixture();
        using var fe = new Frontend(server);
        var ring = new MockSplitRing(fe.Guest.Memory, Frontend.RingBase, 16);
        Assert.Equal(0UL, fe.StartRing(0, ring.Layout));
        for (int i = 0; i < 3; i++)
        {
            ring.Publish(ring.WriteChain(fe.Request(Frontend.DataBase + (ulong)i * 0x2000, BlkRequestType.Out, (ulong)i * 8, 512)));
        }
        fe.Kicks[0].Signal();
        Assert.True(fe.Calls[0].Wait());
        Assert.Equal(3u, fe.StopRing(0));
        Assert.Equal(0, server.Backend.StartedRings);

        // A request published while the ring is stopped waits for the restart (as across a guest reboot's stop/start).
        ulong at = Frontend.DataBase + 0x10000;
        fe.Header(at, BlkRequestType.GetId, 0);
        ring.Publish(ring.WriteChain(new Buf(at, 16), new Buf(at + 16, 20, Write: true), new Buf(at + 36, 1, Write: true)));
        ring.SetUsedEvent(ring.UsedIdx);
        Assert.Equal(0UL, fe.StartRing(0, ring.Layout, baseNum: 3));
        Assert.True(fe.Calls[0].Wait(), "the restarted ring did not take the waiting request");
        Assert.Equal((ushort)4, ring.UsedIdx);
        Assert.Equal(0, fe.Guest.Memory.ReadSpan(at + 36, 1)[0]);
        Assert.StartsWith("virtioscope", System.Text.Encoding.ASCII.GetString(fe.Guest.Memory.ReadSpan(at + 16, 20)), StringComparison.Ordinal);
    }

    [Fact]
    public void MemoryTableResentWhileARingRunsKeepsItRunning()
    {
        // Front-ends re-send the whole table, unchanged regions included, when the guest's memory map changes.
        using var server = new ServerFixture();
        using var fe = new Frontend(server);
        var ring = new MockSplitRing(fe.Guest.Memory, Frontend.RingBase, 16);
        Assert.Equal(0UL, fe.StartRing(0, ring.Layout));
        ring.Publish(ring.WriteChain(fe.Request(Frontend.DataBase, BlkRequestType.Out, 0, 512)));
        fe.Kicks[0].Signal();
        Assert.True(fe.Calls[0].Wait());
        using var extra = new MemfdGuest(64 * 1024);
        var second = new Protocol.RegionDescriptor(0x2_0000_0000, 64 * 1024, 0x6666_0000_0000, 0);
        Assert.Equal(0UL, fe.Client.Ack(VhostUserRequest.SetMemTable, TestClient.MemTable(fe.Guest.Region, second), [fe.Guest.Fd, extra.Fd]));
        Assert.Equal(2, server.Backend.MemoryRegions.Count());
        Assert.Equal(1, server.Backend.StartedRings);
        // A refused table (a region longer than its file) leaves the current one, and the ring, running.
        var tooLong = second with { Size = 1 << 20 };
        Assert.NotEqual(0UL, fe.Client.Ack(VhostUserRequest.SetMemTable, TestClient.MemTable(fe.Guest.Region, tooLong), [fe.Guest.Fd, extra.Fd]));
        Assert.Equal(2, server.Backend.MemoryRegions.Count());
        Assert.Equal(1, server.Backend.StartedRings);
        ring.Publish(ring.WriteChain(fe.Request(Frontend.DataBase + 0x1000, BlkRequestType.Out, 1, 512)));
        ring.SetUsedEvent(ring.UsedIdx);
        fe.Kicks[0].Signal();
        Assert.True(fe.Calls[0].Wait(), server.Log.ToString());
        Assert.Equal((ushort)2, ring.UsedIdx);
    }

    [Fact]
    public void RequestsInFlightWhenABackendDiedAreTakenAgain()
    {
        // A previous back-end took three requests (avail index 3) but completed only one (used index 1) before it
        // died. The front-end restarts the ring at base 3; this back-end completes in order, so it starts from the
        // guest's used index and redoes requests 1 and 2 instead of leaving the guest waiting for them forever.
        using var server = new ServerFixture();
        using var fe = new Frontend(server);
        var ring = new MockSplitRing(fe.Guest.Memory, Frontend.RingBase, 16);
        byte[] data = Pattern(512, 4);
        for (int i = 0; i < 3; i++)
        {
            ulong at = Frontend.DataBase + (ulong)i * 0x1000;
            fe.Guest.Memory.Write(at + 16, data);
            ring.Publish(ring.WriteChain(fe.Request(at, BlkRequestType.Out, 10UL + (ulong)i, 512)));
        }
        fe.Guest.Memory.WriteU32(ring.Layout.DeviceArea + 4, 0); // used[0] = head 0, as the dead back-end left it
        fe.Guest.Memory.WriteU16(ring.Layout.DeviceArea + 2, 1);
        ring.SetUsedEvent(1);
        Assert.Equal(0UL, fe.StartRing(0, ring.Layout, baseNum: 3));
        Assert.True(fe.Calls[0].Wait(), server.Log.ToString());
        Assert.Equal((ushort)3, ring.UsedIdx);
        Assert.Equal(2, server.Backend.Device.Statistics.Requests);
        Assert.Equal(data, server.Disk.Contents.Slice(11 * 512, 512).ToArray());
        Assert.Equal(data, server.Disk.Contents.Slice(12 * 512, 512).ToArray());
        Assert.Equal(new byte[512], server.Disk.Contents.Slice(10 * 512, 512).ToArray());
        Assert.Contains(server.Log.Lines, l => l.Contains("resubmitting 2 requests", StringComparison.Ordinal));
    }

    [Fact]
    public void PackedRingWorksAndItsBaseCarriesBothWrapCounters()
    {
        using var server = new ServerFixture();
        using var fe = new Frontend(server, packed: true, memSlots: true);
        var ring = new MockPackedRing(fe.Guest.Memory, Frontend.RingBase, 8);
        Assert.Equal(0UL, fe.StartRing(0, ring.Layout, baseNum: 0x8000_8000));
        byte[] data = Pattern(1024, 2);
        // Chains of three descriptors in an 8-slot ring: two fit, the third wraps once their slots are used.
        foreach (ushort[] batch in new[] { new ushort[] { 0, 1 }, [2] })
        {
            foreach (ushort id in batch)
            {
                ulong at = Frontend.DataBase + id * 0x1000UL;
                Buf[] req = fe.Request(at, BlkRequestType.Out, id * 2UL, 1024);
                fe.Guest.Memory.Write(at + 16, data);
                ring.Add(id, req);
            }
            fe.Kicks[0].Signal();
            Assert.True(fe.Calls[0].Wait(), server.Log.ToString());
            foreach (ushort id in batch)
            {
                Assert.True(ring.TryTakeUsed(3, out ushort usedId, out uint len));
                Assert.Equal(id, usedId);
                Assert.Equal(1u, len);
                Assert.Equal(data, server.Disk.Contents.Slice(id * 1024, 1024).ToArray());
            }
        }
        // 9 slots consumed in a ring of 8: next avail and next used are slot 1 with both wrap counters flipped to 0.
        Assert.Equal(1u | (1u << 16), fe.StopRing(0));
    }

    [Fact]
    public void TwoRingsRunOnTheirOwnWorkers()
    {
        using var server = new ServerFixture(queues: 2);
        using var fe = new Frontend(server, rings: 2);
        Assert.Equal(2UL, fe.Client.GetU64(VhostUserRequest.GetQueueNum));
        var ring0 = new MockSplitRing(fe.Guest.Memory, Frontend.RingBase, 16);
        var ring1 = new MockSplitRing(fe.Guest.Memory, Frontend.RingBase + 0x1000, 16);
        Assert.Equal(0UL, fe.StartRing(0, ring0.Layout));
        Assert.Equal(0UL, fe.StartRing(1, ring1.Layout));
        Assert.Equal(2, server.Backend.StartedRings);
        ring0.Publish(ring0.WriteChain(fe.Request(Frontend.DataBase, BlkRequestType.Out, 0, 512)));
        fe.Header(Frontend.DataBase + 0x1000, BlkRequestType.Flush, 0);
        ring1.Publish(ring1.WriteChain(new Buf(Frontend.DataBase + 0x1000, 16), new Buf(Frontend.DataBase + 0x1010, 1, Write: true)));
        fe.Kicks[0].Signal();
        fe.Kicks[1].Signal();
        Assert.True(fe.Calls[0].Wait());
        Assert.True(fe.Calls[1].Wait());
        Assert.Equal((ushort)1, ring0.UsedIdx);
        Assert.Equal((ushort)1, ring1.UsedIdx);
        Assert.Equal(0, fe.Guest.Memory.ReadSpan(Frontend.DataBase + 0x1010, 1)[0]);
        Assert.Equal(2, server.Backend.Device.Statistics.StatusOk);
    }

    [Fact]
    public void ReadOnlyDiskOffersRoAndFailsWrites()
    {
        using var server = new ServerFixture(readOnly: true);
        using var fe = new Frontend(server);
        Assert.NotEqual(0UL, fe.Features & BlkFeatures.ReadOnly);
        var ring = new MockSplitRing(fe.Guest.Memory, Frontend.RingBase, 16);
        Assert.Equal(0UL, fe.StartRing(0, ring.Layout));
        ulong at = Frontend.DataBase;
        fe.Guest.Memory.Write(at + 16, Pattern(512, 5));
        ring.Publish(ring.WriteChain(fe.Request(at, BlkRequestType.Out, 0, 512)));
        fe.Kicks[0].Signal();
        Assert.True(fe.Calls[0].Wait());
        Assert.Equal((byte)BlkStatus.IoErr, fe.Status(at, 512));
        Assert.Equal(new byte[512], server.Disk.Contents[..512].ToArray());
    }

    [Fact]
    public void ConfigSpaceIsTheVirtioBlkConfig()
    {
        using var server = new ServerFixture(diskBytes: 3 << 20);
        using var fe = new Frontend(server);
        byte[] request = new byte[12 + 60];
        BinaryPrimitives.WriteUInt32LittleEndian(request.AsSpan(4), 60);
        fe.Client.Send(VhostUserRequest.GetConfig, request);
        byte[] reply = fe.Client.ReadReply(VhostUserRequest.GetConfig);
        Assert.Equal(72, reply.Length);
        Assert.Equal((3UL << 20) / 512, BinaryPrimitives.ReadUInt64LittleEndian(reply.AsSpan(12)));
        Assert.Equal(server.Backend.Device.ConfigBytes.ToArray(), reply.AsSpan(12, 60).ToArray());

        // The writeback field is the one the driver may write (CONFIG_WCE is negotiated).
        byte[] set = new byte[12 + 1];
        BinaryPrimitives.WriteUInt32LittleEndian(set, (uint)BlkConfigOffsets.Writeback);
        BinaryPrimitives.WriteUInt32LittleEndian(set.AsSpan(4), 1);
        Assert.Equal(0UL, fe.Client.Ack(VhostUserRequest.SetConfig, set));
        Assert.Equal(0, server.Backend.Device.ConfigBytes[BlkConfigOffsets.Writeback]);
        Assert.True(server.Backend.Device.WriteThrough);
    }
}
