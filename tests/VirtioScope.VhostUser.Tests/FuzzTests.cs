using System.Buffers.Binary;
using VirtioScope.Block;
using VirtioScope.Testing;
using VirtioScope.VhostUser.Protocol;

namespace VirtioScope.VhostUser.Tests;

/// <summary>
/// Random and mutated messages, with and without descriptors, at a live server: it may refuse or hang up, but must
/// keep serving. After the campaign a clean front-end brings the device up and does I/O on the same server.
/// </summary>
public sealed class FuzzTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void MalformedMessagesNeverTakeTheServerDown(int seed)
    {
        var rng = new Random(seed);
        using var server = new ServerFixture(queues: 2);
        using var guest = new MemfdGuest();
        using var eventFd = new EventFd();
        int closes = 0;
        TestClient client = server.Connect();
        try
        {
            for (int i = 0; i < 400; i++)
            {
                byte[] message = Mutant(rng, guest);
                int[] fds = rng.Next(4) switch
                {
                    0 => [guest.Fd],
                    1 => [eventFd.Fd],
                    2 => rng.Next(3) == 0 ? [guest.Fd, eventFd.Fd, guest.Fd] : [],
                    _ => [],
                };
                bool cut = rng.Next(40) == 0;
                bool sent = client.TrySendRaw(cut ? message.AsSpan(0, rng.Next(message.Length)) : message, fds);
                if (!sent || cut || client.DrainOrClosed())
                {
                    // A cut message leaves the server waiting for the rest: hang up, as a dying front-end would.
                    client.Dispose();
                    closes++;
                    client = server.Connect();
                }
                Assert.True(server.Alive, $"server died at message {i}: {server.Failure}");
            }
        }
        finally
        {
            client.Dispose();
        }
        Assert.True(closes > 0, "the campaign never made the server hang up: it is not reaching the error paths");

        using var fe = new Frontend(server);
        var ring = new MockSplitRing(fe.Guest.Memory, Frontend.RingBase, 16);
        Assert.Equal(0UL, fe.StartRing(0, ring.Layout));
        ring.Publish(ring.WriteChain(fe.Request(Frontend.DataBase, BlkRequestType.In, 0, 512)));
        fe.Kicks[0].Signal();
        Assert.True(fe.Calls[0].Wait());
        Assert.Equal(0, fe.Status(Frontend.DataBase, 512));
    }

    /// <summary>A message that is random, or a well-formed one with a field mutated.</summary>
    private static byte[] Mutant(Random rng, MemfdGuest guest)
    {
        VhostUserRequest request = (VhostUserRequest)(rng.Next(10) == 0 ? (uint)rng.Next() : (uint)rng.Next(0, 45));
        byte[] payload = rng.Next(3) switch
        {
            0 => RandomBytes(rng, rng.Next(0, 300)),
            1 => Plausible(rng, request, guest),
            _ => RandomBytes(rng, new[] { 0, 8, 12, 40, 72, 8 + 32, 8 + 64 }[rng.Next(7)]),
        };
        uint flags = rng.Next(20) == 0 ? (uint)rng.Next() : VhostUserWire.Version | (rng.Next(2) == 0 ? VhostUserWire.NeedReplyFlag : 0);
        byte[] message = new byte[12 + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(message, (uint)request);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(4), flags);
        uint size = rng.Next(30) == 0 ? (uint)rng.Next() : (uint)payload.Length;
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(8), size);
        payload.CopyTo(message, 12);
        return message;
    }

    private static byte[] Plausible(Random rng, VhostUserRequest request, MemfdGuest guest)
    {
        uint ring = (uint)rng.Next(3);
        ulong Near() => rng.Next(3) switch
        {
            0 => MemfdGuest.UserBase + (ulong)rng.Next(0, (int)guest.Size + 4096) / 16 * 16,
            1 => MemfdGuest.GuestBase + (ulong)rng.Next(0, (int)guest.Size),
            _ => (ulong)rng.NextInt64(),
        };
        return request switch
        {
            VhostUserRequest.SetVringNum or VhostUserRequest.SetVringBase or VhostUserRequest.GetVringBase or VhostUserRequest.SetVringEnable
                => TestClient.State(ring, (uint)rng.Next(0, 3) switch { 0 => 16, 1 => (uint)rng.Next(0, 2), _ => (uint)rng.Next() }),
            VhostUserRequest.SetVringAddr => TestClient.Addresses(ring, Near(), Near(), Near()),
            VhostUserRequest.SetVringKick or VhostUserRequest.SetVringCall or VhostUserRequest.SetVringErr
                => TestClient.U64(rng.Next(2) == 0 ? ring : (ulong)rng.NextInt64()),
            VhostUserRequest.SetMemTable => TestClient.MemTable(Region(rng, guest)),
            VhostUserRequest.AddMemReg or VhostUserRequest.RemMemReg => TestClient.MemReg(Region(rng, guest)),
            VhostUserRequest.SetFeatures or VhostUserRequest.SetProtocolFeatures => TestClient.U64(rng.Next(2) == 0 ? (ulong)rng.NextInt64() : 0x1_7000_7e56),
            VhostUserRequest.GetConfig or VhostUserRequest.SetConfig => ConfigAccess(rng),
            _ => RandomBytes(rng, 8),
        };
    }

    private static RegionDescriptor Region(Random rng, MemfdGuest guest) => rng.Next(3) switch
    {
        0 => guest.Region,
        1 => guest.Region with { Size = (ulong)rng.Next(1, 1 << 22), MmapOffset = (ulong)rng.Next(0, 1 << 21) },
        _ => new RegionDescriptor((ulong)rng.NextInt64(), (ulong)rng.NextInt64(), (ulong)rng.NextInt64(), (ulong)rng.NextInt64()),
    };

    private static byte[] ConfigAccess(Random rng)
    {
        int size = rng.Next(0, 300);
        byte[] b = RandomBytes(rng, 12 + size);
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)rng.Next(0, 300));
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), rng.Next(4) == 0 ? (uint)rng.Next() : (uint)size);
        return b;
    }

    private static byte[] RandomBytes(Random rng, int length)
    {
        byte[] b = new byte[length];
        rng.NextBytes(b);
        return b;
    }
}
