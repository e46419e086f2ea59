using VirtioScope.Block;
using VirtioScope.Testing;
using VirtioScope.VhostUser.Protocol;
using VirtioScope.Virtio;
using VirtioScope.Virtio.Queues;

namespace VirtioScope.VhostUser.Tests;

/// <summary>
/// QEMU's side of the bring-up, message by message (vhost_dev_start order): features, protocol features, owner,
/// memory table, then per ring NUM, BASE, ADDR, KICK, CALL and ENABLE. Rings live in the memfd guest.
/// </summary>
internal sealed class Frontend : IDisposable
{
    public const ulong RingBase = MemfdGuest.GuestBase;
    public const ulong DataBase = MemfdGuest.GuestBase + 0x4_0000;

    public Frontend(ServerFixture server, bool packed = false, bool memSlots = false, int rings = 1)
    {
        Client = server.Connect();
        Guest = new MemfdGuest();
        ulong offered = Client.GetU64(VhostUserRequest.GetFeatures);
        Assert.NotEqual(0UL, offered & VhostUserWire.ProtocolFeaturesBit);
        Features = offered & ~(packed ? 0 : VirtioFeatures.RingPacked);
        ulong protocol = Client.GetU64(VhostUserRequest.GetProtocolFeatures);
        Assert.Equal(ProtocolFeatures.Supported, protocol);
        Client.Send(VhostUserRequest.SetProtocolFeatures, TestClient.U64(protocol));
        Client.Send(VhostUserRequest.SetOwner, []);
        Assert.Equal(0UL, Client.Ack(VhostUserRequest.SetFeatures, TestClient.U64(Features)));
        ulong status = memSlots
            ? Client.Ack(VhostUserRequest.AddMemReg, TestClient.MemReg(Guest.Region), [Guest.Fd])
            : Client.Ack(VhostUserRequest.SetMemTable, TestClient.MemTable(Guest.Region), [Guest.Fd]);
        Assert.Equal(0UL, status);
        Packed = packed;
        for (int i = 0; i < rings; i++)
        {
            Kicks.Add(new EventFd());
            Calls.Add(new EventFd());
        }
    }

    public TestClient Client { get; }

    public MemfdGuest Guest { get; }

    public ulong Features { get; }

    public bool Packed { get; }

    public List<EventFd> Kicks { get; } = [];

    public List<EventFd> Calls { get; } = [];

    /// <summary>Starts ring <paramref name="index"/> at <paramref name="layout"/> from <paramref name="baseNum"/>; returns the ack of the kick.</summary>
    public ulong StartRing(uint index, QueueLayout layout, uint baseNum = 0)
    {
        Assert.Equal(0UL, Client.Ack(VhostUserRequest.SetVringNum, TestClient.State(index, layout.Size)));
        Assert.Equal(0UL, Client.Ack(VhostUserRequest.SetVringBase, TestClient.State(index, baseNum)));
        Assert.Equal(0UL, Client.Ack(VhostUserRequest.SetVringAddr,
            TestClient.Addresses(index, MemfdGuest.User(layout.DescTable), MemfdGuest.User(layout.DeviceArea), MemfdGuest.User(layout.DriverArea))));
        Assert.Equal(0UL, Client.Ack(VhostUserRequest.SetVringCall, TestClient.U64(index), [Calls[(int)index].Fd]));
        ulong kick = Client.Ack(VhostUserRequest.SetVringKick, TestClient.U64(index), [Kicks[(int)index].Fd]);
        return kick != 0 ? kick : Client.Ack(VhostUserRequest.SetVringEnable, TestClient.State(index, 1));
    }

    /// <summary>GET_VRING_BASE: stops the ring and returns where it stood.</summary>
    public uint StopRing(uint index)
    {
        Client.Send(VhostUserRequest.GetVringBase, TestClient.State(index, 0));
        byte[] reply = Client.ReadReply(VhostUserRequest.GetVringBase);
        Assert.Equal(8, reply.Length);
        Assert.Equal(index, BitConverter.ToUInt32(reply, 0));
        return BitConverter.ToUInt32(reply, 4);
    }

    /// <summary>Writes a request header into guest memory.</summary>
    public void Header(ulong at, BlkRequestType type, ulong sector)
    {
        Guest.Memory.WriteU32(at, (uint)type);
        Guest.Memory.WriteU32(at + 4, 0);
        Guest.Memory.WriteU64(at + 8, sector);
    }

    /// <summary>The three buffers of a data request: header, data, status.</summary>
    public Buf[] Request(ulong at, BlkRequestType type, ulong sector, uint length)
    {
        Header(at, type, sector);
        Guest.Memory.WriteU32(at + 16 + length, 0xff);
        return [new Buf(at, 16), new Buf(at + 16, length, Write: type == BlkRequestType.In), new Buf(at + 16 + length, 1, Write: true)];
    }

    public byte Status(ulong at, uint length) => Guest.Memory.ReadSpan(at + 16 + length, 1)[0];

    public void Dispose()
    {
        Client.Dispose();
        Kicks.ForEach(k => k.Dispose());
        Calls.ForEach(c => c.Dispose());
        Guest.Dispose();
    }
}
