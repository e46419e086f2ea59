using System.Runtime.InteropServices;
using VirtioScope.VhostUser.Protocol;

namespace VirtioScope.VhostUser.Native;

/// <summary>What one receive produced.</summary>
internal enum ReceiveOutcome
{
    /// <summary>A whole message arrived.</summary>
    Message,

    /// <summary>The peer closed the connection between messages.</summary>
    Closed,

    /// <summary>The stream broke mid-message or its framing is unusable; the connection must be closed.</summary>
    Broken,
}

/// <summary>One received message: the header, its payload and the file descriptors that came with it (owned by the receiver).</summary>
internal sealed class ReceivedMessage
{
    public MessageHeader Header;
    public readonly byte[] Payload = new byte[VhostUserWire.MaxPayload];
    public readonly int[] Fds = new int[VhostUserWire.MaxFds];
    public int FdCount;

    public ReadOnlySpan<byte> Body => Payload.AsSpan(0, Header.Size);

    /// <summary>Takes a descriptor out of the message (so <see cref="CloseFds"/> leaves it open); -1 if absent.</summary>
    public int TakeFd(int index)
    {
        if (index >= FdCount || Fds[index] < 0)
        {
            return -1;
        }
        int fd = Fds[index];
        Fds[index] = -1;
        return fd;
    }

    /// <summary>Closes every descriptor not taken: a message must never leak what it carried.</summary>
    public void CloseFds()
    {
        for (int i = 0; i < FdCount; i++)
        {
            if (Fds[i] >= 0)
            {
                Libc.Close(Fds[i]);
                Fds[i] = -1;
            }
        }
        FdCount = 0;
    }
}

/// <summary>
/// Message framing over a connected Unix stream socket: a header read with recvmsg (SCM_RIGHTS descriptors arrive
/// with the first byte of a message), then the payload. The socket stays owned by the caller.
/// </summary>
internal sealed unsafe class MessageChannel(int fd)
{
    private readonly byte[] _control = new byte[Libc.CmsgSpace(VhostUserWire.MaxFds)];

    /// <summary>Reads one message into <paramref name="message"/>; on Broken, <paramref name="error"/> says why.</summary>
    public ReceiveOutcome Receive(ReceivedMessage message, out string? error)
    {
        message.CloseFds();
        Span<byte> header = stackalloc byte[VhostUserWire.HeaderSize];
        int got = 0;
        while (got < header.Length)
        {
            int n = ReceiveWithFds(header[got..], message, out error);
            if (n < 0)
            {
                return ReceiveOutcome.Broken;
            }
            if (n == 0)
            {
                error = got == 0 ? null : $"connection closed after {got} header bytes";
                return got == 0 ? ReceiveOutcome.Closed : ReceiveOutcome.Broken;
            }
            got += n;
        }
        if (MessageHeader.TryParse(header, out error) is not { } parsed)
        {
            message.CloseFds();
            return ReceiveOutcome.Broken;
        }
        message.Header = parsed;
        got = 0;
        while (got < parsed.Size)
        {
            int n = ReceiveWithFds(message.Payload.AsSpan(got, parsed.Size - got), message, out error);
            if (n <= 0)
            {
                error ??= $"{parsed.Request}: connection closed after {got} of {parsed.Size} payload bytes";
                message.CloseFds();
                return ReceiveOutcome.Broken;
            }
            got += n;
        }
        return ReceiveOutcome.Message;
    }

    private int ReceiveWithFds(Span<byte> buffer, ReceivedMessage message, out string? error)
    {
        error = null;
        fixed (byte* data = buffer)
        fixed (byte* control = _control)
        {
            while (true)
            {
                var iov = new Libc.IoVec { Base = data, Length = (nuint)buffer.Length };
                var hdr = new Libc.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)_control.Length };
                nint n = Libc.RecvMsg(fd, &hdr, Libc.MsgCmsgCloexec);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Libc.Eintr)
                    {
                        continue;
                    }
                    if (errno == Libc.Eagain && WaitReadable())
                    {
                        continue;
                    }
                    error = $"recvmsg: {Marshal.GetPInvokeErrorMessage(errno)}";
                    return -1;
                }
                if (!CollectFds(control, (int)hdr.ControlLength, message) || (hdr.Flags & Libc.MsgCtrunc) != 0)
                {
                    error = $"more than {VhostUserWire.MaxFds} file descriptors in one message";
                    message.CloseFds();
                    return -1;
                }
                return (int)n;
            }
        }
    }

    private static bool CollectFds(byte* control, int length, ReceivedMessage message)
    {
        int offset = 0;
        while (offset + Libc.CmsgHeaderSize <= length)
        {
            long cmsgLen = *(long*)(control + offset);
            int level = *(int*)(control + offset + 8);
            int type = *(int*)(control + offset + 12);
            if (cmsgLen < Libc.CmsgHeaderSize || cmsgLen > length - offset)
            {
                return false;
            }
            if (level == Libc.SolSocket && type == Libc.ScmRights)
            {
                int count = (int)(cmsgLen - Libc.CmsgHeaderSize) / sizeof(int);
                for (int i = 0; i < count; i++)
                {
                    int fd = *(int*)(control + offset + Libc.CmsgHeaderSize + i * sizeof(int));
                    if (message.FdCount == message.Fds.Length)
                    {
                        Libc.Close(fd);
                        return false;
                    }
                    message.Fds[message.FdCount++] = fd;
                }
            }
            offset += (int)((cmsgLen + 7) & ~7L);
        }
        return true;
    }

    private bool WaitReadable()
    {
        var p = new Libc.PollFd { Fd = fd, Events = Libc.PollIn };
        return Libc.Poll(&p, 1, -1) >= 0;
    }

    /// <summary>Sends bytes and, with the first of them, <paramref name="fds"/>. False when the peer is gone.</summary>
    public bool Send(ReadOnlySpan<byte> data, ReadOnlySpan<int> fds = default)
    {
        byte* control = stackalloc byte[Libc.CmsgSpace(VhostUserWire.MaxFds)];
        if (fds.Length > VhostUserWire.MaxFds)
        {
            throw new ArgumentOutOfRangeException(nameof(fds), $"at most {VhostUserWire.MaxFds} descriptors per message");
        }
        int sent = 0;
        fixed (byte* p = data)
        {
            while (sent < data.Length)
            {
                var iov = new Libc.IoVec { Base = p + sent, Length = (nuint)(data.Length - sent) };
                var hdr = new Libc.MsgHdr { Iov = &iov, IovLength = 1 };
                if (sent == 0 && fds.Length > 0)
                {
                    int space = Libc.CmsgSpace(fds.Length);
                    new Span<byte>(control, space).Clear();
                    *(long*)control = Libc.CmsgHeaderSize + fds.Length * sizeof(int);
                    *(int*)(control + 8) = Libc.SolSocket;
                    *(int*)(control + 12) = Libc.ScmRights;
                    fds.CopyTo(new Span<int>(control + Libc.CmsgHeaderSize, fds.Length));
                    hdr.Control = control;
                    hdr.ControlLength = (nuint)space;
                }
                nint n = Libc.SendMsg(fd, &hdr, Libc.MsgNoSignal);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Libc.Eintr)
                    {
                        continue;
                    }
                    return false;
                }
                sent += (int)n;
            }
        }
        return true;
    }
}
