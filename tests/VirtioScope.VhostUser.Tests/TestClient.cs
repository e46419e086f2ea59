using System.Buffers.Binary;
using System.Net.Sockets;
using VirtioScope.VhostUser.Native;
using VirtioScope.VhostUser.Protocol;

namespace VirtioScope.VhostUser.Tests;

/// <summary>A minimal vhost-user front-end: sends requests (with descriptors) and reads replies, as QEMU does.</summary>
internal sealed class TestClient : IDisposable
{
    private readonly Socket _socket;
    private readonly MessageChannel _channel;

    public TestClient(string path)
    {
        _socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _socket.Connect(new UnixDomainSocketEndPoint(path));
        _socket.ReceiveTimeout = 20_000;
        _channel = new MessageChannel((int)_socket.SafeHandle.DangerousGetHandle());
    }

    public void SendRaw(ReadOnlySpan<byte> bytes, ReadOnlySpan<int> fds = default) => Assert.True(TrySendRaw(bytes, fds), "send failed");

    /// <summary>False when the server has already hung up.</summary>
    public bool TrySendRaw(ReadOnlySpan<byte> bytes, ReadOnlySpan<int> fds = default) => _channel.Send(bytes, fds);

    public void Send(VhostUserRequest request, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default, bool needReply = false)
    {
        byte[] message = new byte[VhostUserWire.HeaderSize + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(message, (uint)request);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(4), VhostUserWire.Version | (needReply ? VhostUserWire.NeedReplyFlag : 0));
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(8), (uint)payload.Length);
        payload.CopyTo(message.AsSpan(VhostUserWire.HeaderSize));
        SendRaw(message, fds);
    }

    /// <summary>Reads one reply, checking its header; returns its payload.</summary>
    public byte[] ReadReply(VhostUserRequest request)
    {
        byte[] header = ReadExactly(VhostUserWire.HeaderSize);
        Assert.Equal((uint)request, BinaryPrimitives.ReadUInt32LittleEndian(header));
        Assert.Equal(VhostUserWire.Version | VhostUserWire.ReplyFlag, BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4)));
        return ReadExactly((int)BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(8)));
    }

    private byte[] ReadExactly(int count)
    {
        byte[] buffer = new byte[count];
        int got = 0;
        while (got < count)
        {
            int n = _socket.Receive(buffer, got, count - got, SocketFlags.None);
            Assert.True(n > 0, "the server closed the connection");
            got += n;
        }
        return buffer;
    }

    public ulong GetU64(VhostUserRequest request)
    {
        Send(request, []);
        byte[] reply = ReadReply(request);
        Assert.Equal(8, reply.Length);
        return BinaryPrimitives.ReadUInt64LittleEndian(reply);
    }

    /// <summary>Sends a request with NEED_REPLY and returns the REPLY_ACK status (0 = success).</summary>
    public ulong Ack(VhostUserRequest request, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default)
    {
        Send(request, payload, fds, needReply: true);
        byte[] reply = ReadReply(request);
        Assert.Equal(8, reply.Length);
        return BinaryPrimitives.ReadUInt64LittleEndian(reply);
    }

    public static byte[] U64(ulong value)
    {
        byte[] b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        return b;
    }

    public static byte[] State(uint index, uint num)
    {
        byte[] b = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(b, index);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), num);
        return b;
    }

    public static byte[] Addresses(uint index, ulong desc, ulong used, ulong avail)
    {
        byte[] b = new byte[VringAddresses.WireSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b, index);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), desc);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(16), used);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(24), avail);
        return b;
    }

    public static byte[] MemTable(params RegionDescriptor[] regions)
    {
        byte[] b = new byte[8 + regions.Length * RegionDescriptor.WireSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)regions.Length);
        for (int i = 0; i < regions.Length; i++)
        {
            regions[i].Write(b.AsSpan(8 + i * RegionDescriptor.WireSize));
        }
        return b;
    }

    public static byte[] MemReg(RegionDescriptor region)
    {
        byte[] b = new byte[8 + RegionDescriptor.WireSize];
        region.Write(b.AsSpan(8));
        return b;
    }

    /// <summary>Whether the server has closed the connection (waits up to 20 s for it to do so).</summary>
    public bool WaitClosed()
    {
        if (!_socket.Poll(20_000_000, SelectMode.SelectRead))
        {
            return false;
        }
        try
        {
            byte[] one = new byte[1];
            return _socket.Receive(one) == 0;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    /// <summary>
    /// Reads whatever replies the server sent for a message (waiting briefly for them); true once the server has
    /// closed the connection. Used by the fuzz test, which does not parse replies.
    /// </summary>
    public bool DrainOrClosed()
    {
        byte[] buffer = new byte[4096];
        // Replies that come later are drained with the next message; a hang-up seen late shows as a failed send.
        while (_socket.Poll(20_000, SelectMode.SelectRead))
        {
            try
            {
                if (_socket.Receive(buffer) == 0)
                {
                    return true;
                }
            }
            catch (SocketException)
            {
                return true;
            }
        }
        return false;
    }

    public void Dispose() => _socket.Dispose();
}
