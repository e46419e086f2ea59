using System.Buffers.Binary;
using VirtioScope.VhostUser.Native;
using VirtioScope.VhostUser.Protocol;

namespace VirtioScope.VhostUser.Tests;

/// <summary>Bad requests: an error ack when the front-end asked for one, otherwise a clean close; the server lives on.</summary>
public sealed class ProtocolErrorTests
{
    [Fact]
    public void FailedRequestWithNeedReplyGetsANonZeroAckAndTheConnectionStays()
    {
        using var server = new ServerFixture();
        using var fe = new Frontend(server);
        Assert.NotEqual(0UL, fe.Client.Ack(VhostUserRequest.SetVringNum, TestClient.State(7, 16)));
        Assert.NotEqual(0UL, fe.Client.Ack(VhostUserRequest.SetVringNum, TestClient.State(0, 1024)));
        Assert.NotEqual(0UL, fe.Client.Ack(VhostUserRequest.SetFeatures, TestClient.U64(1UL << 63)));
        Assert.NotEqual(0UL, fe.Client.Ack((VhostUserRequest)200, []));
        Assert.NotEqual(0UL, fe.Client.Ack(VhostUserRequest.SetVringEnable, [1, 2, 3]));
        Assert.Equal(1UL, fe.Client.GetU64(VhostUserRequest.GetQueueNum));
    }

    [Fact]
    public void UnknownRequestWithoutNeedReplyClosesTheConnectionAndTheNextOneIsServed()
    {
        using var server = new ServerFixture();
        using (TestClient c = server.Connect())
        {
            c.Send((VhostUserRequest)200, [1, 2, 3, 4]);
            Assert.True(c.WaitClosed(), "the server kept a connection it cannot answer");
        }
        using TestClient next = server.Connect();
        Assert.Equal(server.Backend.OfferedFeatures, next.GetU64(VhostUserRequest.GetFeatures));
    }

    [Theory]
    [InlineData(0u, 0u)]
    [InlineData(5u, 0u)]
    [InlineData(1u, 100_000u)]
    public void UnusableHeaderClosesTheConnection(uint flags, uint size)
    {
        using var server = new ServerFixture();
        using TestClient c = server.Connect();
        byte[] header = new byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), size);
        c.SendRaw(header);
        Assert.True(c.WaitClosed());
        Assert.True(server.Alive);
    }

    [Fact]
    public void RegionLongerThanItsFileIsRefusedInsteadOfMapped()
    {
        // Touching a mapping past the end of its file would kill the server with SIGBUS.
        using var server = new ServerFixture();
        using TestClient c = server.Connect();
        using var guest = new MemfdGuest(64 * 1024);
        c.Send(VhostUserRequest.SetProtocolFeatures, TestClient.U64(ProtocolFeatures.Supported));
        var tooLong = new RegionDescriptor(MemfdGuest.GuestBase, 1 << 20, MemfdGuest.UserBase, 0);
        Assert.NotEqual(0UL, c.Ack(VhostUserRequest.SetMemTable, TestClient.MemTable(tooLong), [guest.Fd]));
        var beyond = new RegionDescriptor(MemfdGuest.GuestBase, 4096, MemfdGuest.UserBase, 64 * 1024);
        Assert.NotEqual(0UL, c.Ack(VhostUserRequest.AddMemReg, TestClient.MemReg(beyond), [guest.Fd]));
        Assert.Empty(server.Backend.MemoryRegions);
    }

    [Fact]
    public void MemTableNeedsOneDescriptorPerRegion()
    {
        using var server = new ServerFixture();
        using TestClient c = server.Connect();
        using var guest = new MemfdGuest();
        c.Send(VhostUserRequest.SetProtocolFeatures, TestClient.U64(ProtocolFeatures.Supported));
        Assert.NotEqual(0UL, c.Ack(VhostUserRequest.SetMemTable, TestClient.MemTable(guest.Region, guest.Region with { GuestPhysAddr = 0 }), [guest.Fd]));
        Assert.NotEqual(0UL, c.Ack(VhostUserRequest.SetMemTable, TestClient.MemTable(guest.Region), []));
        Assert.NotEqual(0UL, c.Ack(VhostUserRequest.SetMemTable, TestClient.MemTable(guest.Region, guest.Region), [guest.Fd, guest.Fd]));
        Assert.Equal(0UL, c.Ack(VhostUserRequest.SetMemTable, TestClient.MemTable(guest.Region), [guest.Fd]));
        Assert.Single(server.Backend.MemoryRegions);
        Assert.Equal(0UL, c.Ack(VhostUserRequest.RemMemReg, TestClient.MemReg(guest.Region)));
        Assert.Empty(server.Backend.MemoryRegions);
    }

    [Fact]
    public void RingOutsideTheMemoryTableIsRefusedAtStart()
    {
        using var server = new ServerFixture();
        using var fe = new Frontend(server);
        var layout = new Virtio.Queues.QueueLayout(Virtio.Queues.RingFormat.Split, 16, MemfdGuest.GuestBase + fe.Guest.Size, MemfdGuest.GuestBase + fe.Guest.Size + 0x100, MemfdGuest.GuestBase + fe.Guest.Size + 0x200);
        Assert.NotEqual(0UL, fe.StartRing(0, layout));
        Assert.Equal(0, server.Backend.StartedRings);
    }

    [Fact]
    public void DescriptorsOfAFailedMessageAreClosed()
    {
        using var server = new ServerFixture();
        using TestClient c = server.Connect();
        c.Send(VhostUserRequest.SetProtocolFeatures, TestClient.U64(ProtocolFeatures.Supported));
        int before = Directory.GetFiles("/proc/self/fd").Length;
        for (int i = 0; i < 50; i++)
        {
            int fd = Libc.EventFd(0, Libc.EfdCloexec);
            // A call fd for a ring that does not exist: refused, and the received copy must not leak.
            Assert.NotEqual(0UL, c.Ack(VhostUserRequest.SetVringCall, TestClient.U64(9), [fd]));
            Libc.Close(fd);
        }
        int after = Directory.GetFiles("/proc/self/fd").Length;
        Assert.True(after - before < 25, $"descriptors grew from {before} to {after}");
    }
}
