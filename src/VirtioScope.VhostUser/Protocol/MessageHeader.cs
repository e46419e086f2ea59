using System.Buffers.Binary;

namespace VirtioScope.VhostUser.Protocol;

/// <summary>A parsed vhost-user message header. Parsing checks only the framing; what a request means is the handler's business.</summary>
public readonly record struct MessageHeader(VhostUserRequest Request, uint Flags, int Size)
{
    /// <summary>Whether the front-end asked for a REPLY_ACK status.</summary>
    public bool NeedsReply => (Flags & VhostUserWire.NeedReplyFlag) != 0;

    /// <summary>
    /// Parses 12 header bytes; null with a reason when the framing is unusable (wrong version, a reply flag on a
    /// request, or a payload too large to read), in which case the stream cannot be trusted any further.
    /// </summary>
    public static MessageHeader? TryParse(ReadOnlySpan<byte> raw, out string? error)
    {
        if (raw.Length < VhostUserWire.HeaderSize)
        {
            error = $"header of {raw.Length} bytes, expected {VhostUserWire.HeaderSize}";
            return null;
        }
        uint request = BinaryPrimitives.ReadUInt32LittleEndian(raw);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(raw[4..]);
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(raw[8..]);
        if ((flags & VhostUserWire.VersionMask) != VhostUserWire.Version)
        {
            error = $"request {request}: protocol version {flags & VhostUserWire.VersionMask}, expected {VhostUserWire.Version}";
            return null;
        }
        if ((flags & VhostUserWire.ReplyFlag) != 0)
        {
            error = $"request {request}: a front-end message has the reply flag set";
            return null;
        }
        if (size > VhostUserWire.MaxPayload)
        {
            error = $"request {request}: payload of {size} bytes exceeds {VhostUserWire.MaxPayload}";
            return null;
        }
        error = null;
        return new MessageHeader((VhostUserRequest)request, flags, (int)size);
    }

    /// <summary>Writes a reply header for <paramref name="request"/> with a payload of <paramref name="size"/> bytes.</summary>
    public static void WriteReply(Span<byte> destination, VhostUserRequest request, int size)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)request);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], VhostUserWire.Version | VhostUserWire.ReplyFlag);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], (uint)size);
    }
}
