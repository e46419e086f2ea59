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

    [Theory]
    [InlineData(6L << 20, 1)]
    [InlineData((5L << 20) + 1536, 2)]
    public void StreamOptimized_writer_output_passes_qemu_check_and_compare(long size, int seed)
    {
        using var dir = new TempDir();
        string img = dir.File("s.vmdk");
        var rng = new Random(seed);
        byte[] expected = new byte[size];
        // Out of order, unaligned, one grain filled in two halves, a zero run, and the short last grain.
        (long Offset, int Length)[] writes = [((3L << 20) + 100, 200_000), (0, 32 * 1024), (32 * 1024, 32 * 1024), (size - 3000, 3000), (1L << 20, 4096)];
        using (IDiskImage image = DiskImage.Create(img, new ImageCreateOptions { Format = ImageFormat.Vmdk, Subformat = "streamOptimized", Size = size }))
        {
            foreach ((long offset, int length) in writes)
            {
                byte[] data = new byte[length];
                rng.NextBytes(data);
                image.Write(offset, data);
                data.CopyTo(expected, offset);
            }
            image.WriteZeroes(2L << 20, 1 << 20, Block.ZeroingMode.MayUnmap);
            TestData.AssertSame(expected, TestData.ReadAll(image), "read back while writing");
            var again = Assert.Throws<ImageException>(() => image.Write(0, new byte[512]));
            Assert.Contains("already written", again.Message, StringComparison.Ordinal);
        }
        (int code, string output, string err) = QemuImg.Run("qemu-img", "check", "-f", "vmdk", img);
        Assert.True(code == 0, output + err);
        string raw = dir.File("expected.raw");
        File.WriteAllBytes(raw, expected);
        QemuImg.Img("compare", "-f", "vmdk", "-F", "raw", img, raw);
        Assert.Contains("\"create-type\": \"streamOptimized\"", QemuImg.Img("info", "--output", "json", img), StringComparison.Ordinal);
        using IDiskImage back = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true });
        TestData.AssertSame(expected, TestData.ReadAll(back), "our reader");
        // The stream ends with the footer and the end-of-stream marker, the last two sectors.
        byte[] tail = File.ReadAllBytes(img)[^512..];
        Assert.All(tail, b => Assert.Equal(0, b));
    }

    [Fact]
    public void Flat_and_split_vmdk_subformats_cannot_be_created_or_opened_read_write()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<ImageException>(() => DiskImage.Create(dir.File("m.vmdk"), new ImageCreateOptions { Format = ImageFormat.Vmdk, Size = 1 << 20, Subformat = "monolithicFlat" }));
        Assert.Equal(ImageErrorKind.InvalidOption, e.Kind);
        QemuImg.Img("create", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", dir.File("t.vmdk"), "1M");
        QemuImg.Img("create", "-f", "vmdk", "-o", "subformat=streamOptimized", dir.File("s.vmdk"), "1M");
        Assert.Equal(ImageErrorKind.UnsupportedFeature, Assert.Throws<ImageException>(() => DiskImage.Open(dir.File("t.vmdk"))).Kind);
        Assert.Equal(ImageErrorKind.UnsupportedFeature, Assert.Throws<ImageException>(() => DiskImage.Open(dir.File("s.vmdk"))).Kind);
    }

    [Theory]
    [InlineData("ours")]
    [InlineData("qemu")]
    public void MonolithicSparse_writes_pass_qemu_check_and_compare_and_survive_qemu_io(string maker)
    {
        using var dir = new TempDir();
        string img = dir.File("w.vmdk");
        if (maker == "ours")
        {
            DiskImage.Create(img, new ImageCreateOptions { Format = ImageFormat.Vmdk, Size = 40 << 20 }).Dispose();
        }
        else
        {
            QemuImg.Img("create", "-f", "vmdk", img, "40M");
        }
        byte[] expected = FormatFixtures.ToRaw("vmdk", img, dir.Path);
        long size = expected.Length;
        FormatFixtures.WriteAndVerify("vmdk", img, expected, [(100L, 70_000), (5L << 20, 4096), ((33L << 20) + 7, 300_000), (size - 1000, 1000)], maker.Length,
            (image, content) =>
            {
                Assert.False(image.IsReadOnly);
                image.WriteZeroes(200, 1000, Block.ZeroingMode.MayUnmap);
                content.AsSpan(200, 1000).Clear();
            });
        TestData.AssertSame(expected, FormatFixtures.ToRaw("vmdk", img, dir.Path), "qemu-img's view");
        FormatFixtures.Io("vmdk", img, "write -P 0x99 1M 64k");
        using (IDiskImage image = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true }))
        {
            byte[] back = new byte[65536];
            image.Read(1 << 20, back);
            Assert.All(back, b => Assert.Equal(0x99, b));
        }
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
