namespace VirtioScope.Images.Tests;

/// <summary>Images made by qemu-img/qemu-io in every combination read byte-exact, compared with qemu-img convert -O raw.</summary>
public sealed class Qcow2ReadInteropTests
{
    public static TheoryData<string, int, int, bool> Layouts()
    {
        var data = new TheoryData<string, int, int, bool>();
        foreach (int cs in new[] { 512, 4096, 65536, 2 << 20 })
        {
            data.Add("0.10", cs, 16, false);
            foreach (int bits in new[] { 1, 2, 4, 8, 16, 32, 64 })
            {
                data.Add("1.1", cs, bits, false);
            }
            if (cs >= 16384)
            {
                data.Add("1.1", cs, 16, true);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Reads_qemu_written_image_byte_exact(string compat, int clusterSize, int refcountBits, bool extendedL2)
    {
        using var dir = new TempDir();
        string img = dir.File("a.qcow2");
        QemuImg.Img("create", "-f", "qcow2", "-o", $"compat={compat},cluster_size={clusterSize},refcount_bits={refcountBits},extended_l2={(extendedL2 ? "on" : "off")}", img, "6M");
        QemuImg.Io(img,
            "write -P 0x11 0 100k",
            "write -P 0x22 1000 3000",
            "write -P 0x33 2M 1M",
            "write -z 2304k 256k",
            "write -P 0x44 5M 4k",
            "discard 5M 1M",
            "write -P 0x55 5500k 1k");
        byte[] expected = QemuImg.ToRaw(img, dir.Path);
        using IDiskImage image = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true });
        Assert.Equal(ImageFormat.Qcow2, image.Format);
        TestData.AssertSame(expected, TestData.ReadAll(image), img);
    }

    [Theory]
    [InlineData("zlib", 65536)]
    [InlineData("zstd", 65536)]
    [InlineData("zlib", 4096)]
    [InlineData("zstd", 2 << 20)]
    [InlineData("zlib", 512)]
    public void Reads_compressed_clusters(string compression, int clusterSize)
    {
        using var dir = new TempDir();
        string raw = dir.File("src.raw");
        var rng = new Random(7);
        byte[] content = new byte[4 << 20];
        for (int i = 0; i < content.Length; i += 4096)
        {
            // Compressible text-like runs with some random bytes.
            byte b = (byte)rng.Next(4);
            content.AsSpan(i, 4096).Fill((byte)('a' + b));
            content[i + rng.Next(4096)] = (byte)rng.Next(256);
        }
        content.AsSpan(1 << 20, 1 << 20).Clear();
        File.WriteAllBytes(raw, content);
        string img = dir.File("c.qcow2");
        QemuImg.Img("convert", "-c", "-O", "qcow2", "-o", $"compression_type={compression},cluster_size={clusterSize}", raw, img);
        using IDiskImage image = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true });
        TestData.AssertSame(content, TestData.ReadAll(image), img);
    }
}
