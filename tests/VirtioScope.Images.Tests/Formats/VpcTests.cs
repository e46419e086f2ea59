using VirtioScope.Images.Vpc;

namespace VirtioScope.Images.Tests.Formats;

/// <summary>VHD (vpc): qemu-img images read byte-exact, third-party images, writes checked by qemu-img.</summary>
public sealed class VpcTests
{
    [Theory]
    [InlineData("dynamic", "off")]
    [InlineData("dynamic", "on")]
    [InlineData("fixed", "off")]
    [InlineData("fixed", "on")]
    public void Reads_qemu_written_image_byte_exact(string subformat, string forceSize)
    {
        using var dir = new TempDir();
        string img = dir.File("a.vhd");
        QemuImg.Img("create", "-f", "vpc", "-o", $"subformat={subformat},force_size={forceSize}", img, "7M");
        FormatFixtures.Io("vpc", img,
            "write -P 0x11 0 100k",
            "write -P 0x22 1000 3000",
            "write -P 0x33 2M 1M",
            "write -P 0x55 5500k 1k");
        byte[] expected = FormatFixtures.ToRaw("vpc", img, dir.Path);
        using IDiskImage image = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true, Format = ImageFormat.Vpc });
        Assert.Equal(ImageFormat.Vpc, image.Format);
        Assert.Equal(expected.Length, image.VirtualSize);
        TestData.AssertSame(expected, TestData.ReadAll(image), img);
    }

    [Theory]
    [InlineData("d2v-zerofilled.vhd", 263454720L, "b97887579deb55faac424ec9be103073")]
    public void Reads_third_party_vhd_byte_exact(string name, long size, string md5)
    {
        using var dir = new TempDir();
        string img = FormatFixtures.ThirdParty(name, dir);
        using IDiskImage image = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true });
        Assert.Equal(size, image.VirtualSize);
        Assert.Equal(md5, FormatFixtures.Md5(image));
    }

    [Theory]
    [InlineData("virtualpc-dynamic.vhd", 136363130880L)]
    [InlineData("hyperv2012r2-dynamic.vhd", 136365211648L)]
    public void Sizes_127_GiB_vhds_by_creator_rule_metadata_only(string name, long size)
    {
        using var dir = new TempDir();
        string img = FormatFixtures.ThirdParty(name, dir);
        using IDiskImage image = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true });
        Assert.Equal(size, image.VirtualSize);
        MapRecord[] map = [.. ImageMap.Map(image)];
        Assert.Single(map);
        Assert.False(map[0].Data);
        Assert.True(map[0].Zero);
        Assert.Equal(size, map[0].Length);
        Assert.True(ImageMap.IsZero(image, 0, size));
        string expected = QemuImg.Img("map", "--output=json", img);
        Assert.Contains($"\"length\": {size}", expected, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("dynamic")]
    [InlineData("fixed")]
    public void Writes_pass_qemu_check_and_compare(string subformat)
    {
        using var dir = new TempDir();
        string img = dir.File("w.vhd");
        QemuImg.Img("create", "-f", "vpc", "-o", $"subformat={subformat},force_size=on", img, "9M");
        FormatFixtures.Io("vpc", img, "write -P 0x77 4M 4k");
        byte[] expected = new byte[9 << 20];
        expected.AsSpan(4 << 20, 4096).Fill(0x77);
        FormatFixtures.WriteAndVerify("vpc", img, expected, [(0L, 4096), (1000L, 70000), (2L << 20, 3 << 20), (4L << 20, 512), ((9L << 20) - 700, 700)], 5,
            (image, content) =>
            {
                image.WriteZeroes(100, 200, Block.ZeroingMode.MayUnmap);
                content.AsSpan(100, 200).Clear();
            });
        TestData.AssertSame(expected, FormatFixtures.ToRaw("vpc", img, dir.Path), "qemu-img's view");
    }

    [Fact]
    public void Read_only_open_refuses_writes()
    {
        using var dir = new TempDir();
        string img = dir.File("r.vhd");
        QemuImg.Img("create", "-f", "vpc", img, "1M");
        using IDiskImage image = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true });
        var e = Assert.Throws<ImageException>(() => image.Write(0, new byte[512]));
        Assert.Equal(ImageErrorKind.ReadOnly, e.Kind);
        Assert.IsType<VpcImage>(image);
    }
}
