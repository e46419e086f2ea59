namespace VirtioScope.Images.Tests.Formats;

/// <summary>VHD and VHDX images created and written by VirtioScope pass qemu-img check and compare.</summary>
public sealed class CreateFormatTests
{
    public static TheoryData<string, string, int?, int, bool> Layouts() => new()
    {
        { "vpc", "dynamic", null, 512, false },
        { "vpc", "dynamic", 512 * 1024, 512, true },
        { "vpc", "fixed", null, 512, false },
        { "vpc", "fixed", null, 512, true },
        { "vhdx", "dynamic", null, 512, false },
        { "vhdx", "dynamic", 1 << 20, 512, false },
        { "vhdx", "fixed", 2 << 20, 512, false },
        { "vhdx", "dynamic", 32 << 20, 512, false },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Created_and_written_image_passes_qemu_check_and_compare(string format, string subformat, int? blockSize, int sectorSize, bool forceSize)
    {
        using var dir = new TempDir();
        string img = dir.File("n." + format);
        var options = new ImageCreateOptions
        {
            Format = ImageFormatNames.Parse(format),
            Size = 13_000_000,
            Subformat = subformat,
            BlockSize = blockSize,
            LogicalSectorSize = sectorSize,
            ForceSize = forceSize,
        };
        byte[] expected;
        var rng = new Random(11);
        using (IDiskImage image = DiskImage.Create(img, options))
        {
            expected = new byte[image.VirtualSize];
            Assert.True(image.VirtualSize >= 13_000_000 - 4095);
            if (forceSize || format == "vhdx")
            {
                Assert.True(image.VirtualSize - 13_000_000 < sectorSize, $"size {image.VirtualSize}");
            }
            foreach ((long off, int len) in new[] { (0L, 4096), (5000L, 100_000), (4L << 20, 3 << 20), (expected.Length - 4096L, 4096) })
            {
                byte[] data = new byte[len];
                rng.NextBytes(data);
                image.Write(off, data);
                data.CopyTo(expected, off);
            }
            TestData.AssertSame(expected, TestData.ReadAll(image), "own read-back");
        }
        string info = QemuImg.Img("info", "-f", format, "--output=json", img);
        Assert.Contains($"\"virtual-size\": {expected.Length}", info, StringComparison.Ordinal);
        (int code, string output, string err) = QemuImg.Run("qemu-img", "check", "-f", format, img);
        Assert.True(code == 0 || (format == "vpc" && output.Contains("does not support checks", StringComparison.Ordinal) || err.Contains("does not support checks", StringComparison.Ordinal)), output + err);
        string raw = dir.File("expected.raw");
        File.WriteAllBytes(raw, expected);
        QemuImg.Img("compare", "-f", format, "-F", "raw", img, raw);
        using IDiskImage again = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true, Format = ImageFormatNames.Parse(format) });
        TestData.AssertSame(expected, TestData.ReadAll(again), "reopened");
    }

    [Fact]
    public void Vhdx_with_4096_byte_logical_sectors_round_trips_and_reports_its_sector_size()
    {
        // qemu 7.2 opens only 512-byte logical sectors ("Operation not supported"), so the verdict here is our own reader.
        using var dir = new TempDir();
        string img = dir.File("4k.vhdx");
        byte[] data = new byte[8192];
        new Random(4).NextBytes(data);
        using (IDiskImage image = DiskImage.Create(img, new ImageCreateOptions { Format = ImageFormat.Vhdx, Size = 5_000_000, BlockSize = 1 << 20, LogicalSectorSize = 4096 }))
        {
            Assert.Equal(5_001_216, image.VirtualSize);
            image.Write(3 << 20, data);
        }
        using var again = (Vhdx.VhdxImage)DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true });
        Assert.Equal(4096, again.LogicalSectorSize);
        byte[] back = new byte[8192];
        again.Read(3 << 20, back);
        Assert.Equal(data, back);
        Assert.Equal(Vhdx.VhdxImage.PayloadStateFullyPresent, again.BlockState(3 << 20));
        Assert.NotEqual(0, QemuImg.Run("qemu-img", "info", "-f", "vhdx", img).Code);
    }
}
