namespace VirtioScope.Images.Tests.Formats;

/// <summary>VMDK: every subformat qemu-img makes reads byte-exact; the VMware-made version 3 image matches its md5.</summary>
public sealed class VmdkTests
{
    [Theory]
    [InlineData("monolithicSparse")]
    [InlineData("monolithicFlat")]
    [InlineData("twoGbMaxExtentSparse")]
    [InlineData("twoGbMaxExtentFlat")]
    [InlineData("streamOptimized")]
    public void Reads_qemu_written_subformat_byte_exact(string subformat)
    {
        using var dir = new TempDir();
        string raw = dir.File("src.raw");
        var rng = new Random(3);
        byte[] content = new byte[6 << 20];
        rng.NextBytes(content.AsSpan(0, 100_000));
        content.AsSpan(2 << 20, 1 << 20).Fill(0x33);
        rng.NextBytes(content.AsSpan((5 << 20) + 1000, 3000));
        File.WriteAllBytes(raw, content);
        string img = dir.File("a.vmdk");
        QemuImg.Img("convert", "-f", "raw", "-O", "vmdk", "-o", $"subformat={subformat}", raw, img);
        using IDiskImage image = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true });
        Assert.Equal(ImageFormat.Vmdk, image.Format);
        TestData.AssertSame(content, TestData.ReadAll(image), img);
        TestData.AssertSame(FormatFixtures.ToRaw("vmdk", img, dir.Path), TestData.ReadAll(image), "qemu-img's view");
    }

    [Fact]
    public void Reads_qemu_io_written_sparse_image_with_zero_grains()
    {
        using var dir = new TempDir();
        string img = dir.File("z.vmdk");
        QemuImg.Img("create", "-f", "vmdk", "-o", "zeroed_grain=on", img, "5M");
        FormatFixtures.Io("vmdk", img, "write -P 0x11 0 70k", "write -z 64k 128k", "write -P 0x22 3M 4k");
        byte[] expected = FormatFixtures.ToRaw("vmdk", img, dir.Path);
        using IDiskImage image = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true });
        TestData.AssertSame(expected, TestData.ReadAll(image), img);
    }

    [Fact]
    public void Reads_vmware_version3_image_byte_exact()
    {
        using var dir = new TempDir();
        string img = FormatFixtures.ThirdParty("iotest-version3.vmdk", dir);
        using IDiskImage image = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true });
        Assert.Equal(17179869184L, image.VirtualSize);
        Assert.Equal(65536, ((IImageDetails)image).ClusterSize);
        long allocated = ImageMap.Map(image).Where(r => r.Data).Sum(r => r.Length);
        Assert.Equal(9895936L, allocated);
        Assert.Equal("df8a33ad9063a43ae69a17f63d3b91a9", Md5Sparse(image));
    }

    [Fact]
    public void Read_write_open_is_refused()
    {
        using var dir = new TempDir();
        string img = dir.File("r.vmdk");
        QemuImg.Img("create", "-f", "vmdk", img, "1M");
        var e = Assert.Throws<ImageException>(() => DiskImage.Open(img));
        Assert.Equal(ImageErrorKind.UnsupportedFeature, e.Kind);
    }

    /// <summary>MD5 of the whole disk, hashing unallocated runs as zeroes without reading them (16 GiB disk).</summary>
    private static string Md5Sparse(IDiskImage image)
    {
        using var md5 = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.MD5);
        byte[] buf = new byte[1 << 20];
        byte[] zeros = new byte[1 << 20];
        foreach (MapRecord r in ImageMap.Map(image))
        {
            for (long done = 0; done < r.Length; done += buf.Length)
            {
                int n = (int)Math.Min(buf.Length, r.Length - done);
                if (r.Data)
                {
                    image.Read(r.Start + done, buf.AsSpan(0, n));
                    md5.AppendData(buf, 0, n);
                }
                else
                {
                    md5.AppendData(zeros, 0, n);
                }
            }
        }
        return Convert.ToHexStringLower(md5.GetHashAndReset());
    }
}
