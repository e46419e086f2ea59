using VirtioScope.Block;

namespace VirtioScope.Block.Tests;

public sealed class RawFileBackendTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"vscope-raw-{Guid.NewGuid():n}.img");

    public RawFileBackendTests()
    {
        using FileStream f = File.Create(_path);
        f.SetLength(1 << 20);
    }

    public void Dispose() => File.Delete(_path);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Read_write_round_trip(bool direct)
    {
        using RawFileBackend b = RawFileBackend.Open(_path, new RawFileOptions { Direct = direct });
        Assert.Equal(1 << 20, b.Size);
        byte[] data = new byte[1536];
        new Random(1).NextBytes(data);
        b.Write(512, data); // unaligned for O_DIRECT: goes through the bounce buffer
        byte[] back = new byte[1536];
        b.Read(512, back);
        Assert.Equal(data, back);
        b.Flush();
        byte[] onDisk = File.ReadAllBytes(_path);
        Assert.Equal(data, onDisk[512..2048]);
    }

    [Fact]
    public void Write_zeroes_and_discard_read_back_as_zero()
    {
        using RawFileBackend b = RawFileBackend.Open(_path);
        byte[] ones = new byte[8192];
        ones.AsSpan().Fill(1);
        b.Write(0, ones);
        b.WriteZeroes(0, 4096, ZeroingMode.KeepAllocated);
        b.WriteZeroes(4096, 2048, ZeroingMode.MayUnmap);
        byte[] back = new byte[8192];
        b.Read(0, back);
        Assert.Equal(-1, back.AsSpan(0, 6144).IndexOfAnyExcept((byte)0));
        Assert.Equal(1, back[6144]);
    }

    [Fact]
    public void Read_only_refuses_writes()
    {
        using RawFileBackend b = RawFileBackend.Open(_path, new RawFileOptions { ReadOnly = true });
        Assert.True(b.IsReadOnly);
        Assert.Throws<IOException>(() => b.Write(0, new byte[512]));
    }

    [Fact]
    public void Missing_file_is_an_io_error()
    {
        Assert.ThrowsAny<IOException>(() => RawFileBackend.Open(_path + ".missing"));
    }
}
