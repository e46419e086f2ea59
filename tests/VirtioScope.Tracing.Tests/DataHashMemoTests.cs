using System.IO.Hashing;
using VirtioScope.Tracing.Format;

namespace VirtioScope.Tracing.Tests;

/// <summary>The writer's hash memo: a remembered hash is reused only for byte-identical data.</summary>
public class DataHashMemoTests
{
    [Fact]
    public void Every_hash_equals_XxHash3_of_the_bytes_as_they_are_at_the_call()
    {
        var memo = new DataHashMemo();
        byte[] buffer = new byte[4096];
        new Random(7).NextBytes(buffer);
        Assert.Equal(XxHash3.HashToUInt64(buffer), memo.Hash(buffer));
        Assert.Equal(XxHash3.HashToUInt64(buffer), memo.Hash(buffer));

        // The same memory changed after it was hashed (a later read into the same guest buffer): hashed again.
        buffer[4095] ^= 1;
        Assert.Equal(XxHash3.HashToUInt64(buffer), memo.Hash(buffer));
        buffer[0] ^= 0x80;
        Assert.Equal(XxHash3.HashToUInt64(buffer), memo.Hash(buffer));

        // Equal bytes elsewhere (a bounce buffer copied to guest memory) give the same hash; a prefix does not.
        byte[] copy = (byte[])buffer.Clone();
        Assert.Equal(XxHash3.HashToUInt64(buffer), memo.Hash(copy));
        Assert.Equal(XxHash3.HashToUInt64(copy.AsSpan(0, 2048)), memo.Hash(copy.AsSpan(0, 2048)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(DataHashMemo.MinimumLength - 1)]
    [InlineData(DataHashMemo.MinimumLength)]
    [InlineData(DataHashMemo.MaximumLength)]
    [InlineData(DataHashMemo.MaximumLength + 1)]
    public void Lengths_at_and_beyond_the_limits_hash_like_XxHash3(int length)
    {
        var memo = new DataHashMemo();
        byte[] data = new byte[length];
        new Random(length).NextBytes(data);
        Assert.Equal(XxHash3.HashToUInt64(data), memo.Hash(data));
        if (length > 0)
        {
            data[length / 2] ^= 0xff;
        }
        Assert.Equal(XxHash3.HashToUInt64(data), memo.Hash(data));
    }
}
