using VirtioScope.Images.Qcow2;

namespace VirtioScope.Images.Tests;

/// <summary>The native (libzstd) and managed (ZstdSharp) codecs must be interchangeable on qcow2 clusters.</summary>
public sealed class ZstdCodecTests
{
    private static byte[] Cluster(int seed)
    {
        var rng = new Random(seed);
        byte[] data = new byte[65536];
        for (int i = 0; i < data.Length; i += 64)
        {
            data.AsSpan(i, 64).Fill((byte)rng.Next(8));
        }
        rng.NextBytes(data.AsSpan(1000, 300));
        return data;
    }

    [Fact]
    public void Native_libzstd_loads_on_the_test_machine()
    {
        // Debian always has libzstd1 (dpkg depends on it); without it compressed convert silently loses half its speed.
        Assert.True(NativeZstd.IsAvailable, "libzstd.so.1 did not load");
    }

    [Fact]
    public void Native_and_managed_frames_decode_with_either_codec_and_trailing_bytes_are_ignored()
    {
        byte[] cluster = Cluster(1);
        byte[] native = new byte[70000];
        byte[] managed = new byte[70000];
        int n = NativeZstd.Compress(cluster, native);
        int m = Qcow2Compression.CompressZstdManaged(cluster, managed);
        Assert.InRange(n, 1, cluster.Length - 1);
        Assert.InRange(m, 1, cluster.Length - 1);
        // The descriptor covers whole sectors, so the next cluster's bytes may follow the frame.
        native.AsSpan(n, 512).Fill(0xEE);
        managed.AsSpan(m, 512).Fill(0xEE);
        byte[] out1 = new byte[cluster.Length];
        byte[] out2 = new byte[cluster.Length];
        Assert.True(NativeZstd.Decompress(managed.AsSpan(0, m + 512), out1));
        Assert.True(Qcow2Compression.DecompressZstdManaged(native.AsSpan(0, n + 512), out2));
        Assert.Equal(cluster, out1);
        Assert.Equal(cluster, out2);
    }

    [Fact]
    public void Both_codecs_refuse_truncated_frames_short_output_and_incompressible_data()
    {
        byte[] cluster = Cluster(2);
        byte[] frame = new byte[70000];
        int n = NativeZstd.Compress(cluster, frame);
        byte[] output = new byte[cluster.Length];
        Assert.False(NativeZstd.Decompress(frame.AsSpan(0, n / 2), output));
        Assert.False(Qcow2Compression.DecompressZstdManaged(frame.AsSpan(0, n / 2), output));
        // A frame that decodes to fewer bytes than a cluster is corrupt for qcow2.
        Assert.False(NativeZstd.Decompress(frame.AsSpan(0, n), new byte[cluster.Length * 2]));
        byte[] noise = new byte[65536];
        new Random(3).NextBytes(noise);
        Assert.Equal(-1, NativeZstd.Compress(noise, new byte[noise.Length - 1]));
        Assert.Equal(-1, Qcow2Compression.CompressZstdManaged(noise, new byte[noise.Length - 1]));
    }
}
