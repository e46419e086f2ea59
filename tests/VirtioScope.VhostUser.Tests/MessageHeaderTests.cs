using System.Buffers.Binary;
using VirtioScope.VhostUser.Protocol;

namespace VirtioScope.VhostUser.Tests;

public sealed class MessageHeaderTests
{
    private static byte[] Raw(uint request, uint flags, uint size)
    {
        byte[] b = new byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(b, request);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), size);
        return b;
    }

    [Fact]
    public void ParsesARequestWithNeedReply()
    {
        MessageHeader? h = MessageHeader.TryParse(Raw(9, 1 | 8, 40), out string? error);
        Assert.Null(error);
        Assert.Equal(new MessageHeader(VhostUserRequest.SetVringAddr, 9, 40), h);
        Assert.True(h!.Value.NeedsReply);
    }

    [Theory]
    [InlineData(0u, 0u, "version 0")]
    [InlineData(2u, 0u, "version 2")]
    [InlineData(1u | 4u, 0u, "reply flag")]
    [InlineData(1u, 4097u, "exceeds 4096")]
    [InlineData(1u, uint.MaxValue, "exceeds 4096")]
    public void RejectsUnusableFraming(uint flags, uint size, string reason)
    {
        Assert.Null(MessageHeader.TryParse(Raw(1, flags, size), out string? error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsAShortHeader() => Assert.Null(MessageHeader.TryParse(new byte[11], out _));

    [Fact]
    public void UnknownRequestCodesStillParse()
    {
        // Whether a request is known is the handler's decision (it answers with an error), not the parser's.
        Assert.Equal((VhostUserRequest)777, MessageHeader.TryParse(Raw(777, 1, 0), out _)!.Value.Request);
    }

    [Fact]
    public void ReplyHeaderCarriesVersionAndReplyFlag()
    {
        byte[] b = new byte[12];
        MessageHeader.WriteReply(b, VhostUserRequest.GetFeatures, 8);
        Assert.Equal(Raw(1, 5, 8), b);
    }

    [Fact]
    public void PackedVringBaseRoundTrips()
    {
        var p = new Virtio.Queues.RingPosition(5, false, 0x7fff, true);
        uint num = VringBase.Encode(p, packed: true);
        Assert.Equal(0x7fff_0005u | 0x8000_0000u, num);
        Assert.Equal(p, VringBase.Decode(num, packed: true));
        Assert.Equal(300u, VringBase.Encode(new Virtio.Queues.RingPosition(300, true, 300, true), packed: false));
    }
}
