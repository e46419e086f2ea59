using VirtioScope.Images.Vhdx;

namespace VirtioScope.Images.Tests.Formats;

/// <summary>
/// Differencing VHDX and VHD chains made by VirtioScope over qemu-img parents: our reads against the content we
/// wrote, and libvhdi's reads of the same files (qemu-img 7.2 cannot open a differencing VHDX and reads a differencing
/// VHD without its parent, so it can only vouch for the parents).
/// </summary>
public sealed class DifferencingTests
{
    /// <summary>Writes at sector-unaligned offsets, across blocks, a whole block, and a single byte.</summary>
    private static readonly (long Offset, int Length)[] ChildWrites =
    [
        (100, 300), (4096, 8192), ((1L << 20) - 700, 1500), (3L << 20, 1 << 20), (5L << 20, 1), ((6L << 20) - 512, 512),
    ];

    private static readonly (long Offset, int Length)[] GrandchildWrites = [(0, 4096), (3L << 20, 2000), ((1L << 20) - 100, 50), ((4L << 20) + 333, 70000)];

    [Theory]
    [InlineData("vhdx", "block_size=1M", 512)]
    [InlineData("vhdx", null, 4096)]
    [InlineData("vhdx", "block_size=2M", 512)]
    [InlineData("vpc", "force_size=on", 512)]
    [InlineData("vpc", "force_size=off", 512)]
    public void Three_level_chain_reads_as_written_by_us_and_by_libvhdi(string format, string? baseOptions, int sectorSize)
    {
        using var dir = new TempDir();
        string basePath = dir.File("base." + format);
        byte[] expected;
        if (baseOptions is null)
        {
            // Neither qemu-img nor qemu-io handles 4096-byte-sector VHDX: we make the base, and libvhdi checks it below.
            expected = new byte[6 << 20];
            expected.AsSpan().Fill(0x11);
            expected.AsSpan(1 << 20, 512 << 10).Fill(0x22);
            using IDiskImage made = DiskImage.Create(basePath, new ImageCreateOptions { Format = ImageFormat.Vhdx, Size = 6 << 20, BlockSize = 1 << 20, LogicalSectorSize = sectorSize });
            made.Write(0, expected);
        }
        else
        {
            QemuImg.Img("create", "-f", format, "-o", baseOptions, basePath, "6M");
            FormatFixtures.Io(format, basePath, "write -P 0x11 0 6M", "write -P 0x22 1M 512k");
            expected = FormatFixtures.ToRaw(format, basePath, dir.Path);
        }
        Assert.Equal(FormatFixtures.Md5(expected), FormatFixtures.LibvhdiMd5(basePath));
        ImageFormat fmt = ImageFormatNames.Parse(format);

        string child = dir.File("child." + format);
        WriteLayer(child, new ImageCreateOptions { Format = fmt, BackingFile = "base." + format }, ChildWrites, expected, 1);
        byte[] afterChild = (byte[])expected.Clone();
        string grandchild = dir.File("grandchild." + format);
        WriteLayer(grandchild, new ImageCreateOptions { Format = fmt, BackingFile = child }, GrandchildWrites, expected, 2);

        using (IDiskImage image = DiskImage.Open(grandchild, new ImageOpenOptions { ReadOnly = true }))
        {
            Assert.NotNull(image.Backing?.Backing);
            Assert.Equal(basePath, image.Backing!.Backing!.FilePath);
            TestData.AssertSame(expected, TestData.ReadAll(image), "grandchild after reopen");
            if (image is VhdxImage vhdx)
            {
                Assert.True(vhdx.IsDifferencing);
                Assert.Equal(sectorSize, vhdx.LogicalSectorSize);
            }
        }
        using (IDiskImage middle = DiskImage.Open(child, new ImageOpenOptions { ReadOnly = true }))
        {
            TestData.AssertSame(afterChild, TestData.ReadAll(middle), "child after reopen");
        }
        Assert.Equal(FormatFixtures.Md5(expected), FormatFixtures.LibvhdiMd5(grandchild, child, basePath));
        Assert.Equal(FormatFixtures.Md5(afterChild), FormatFixtures.LibvhdiMd5(child, basePath));
        if (baseOptions is not null)
        {
            // The parent was only read: qemu-img still finds it clean.
            (int code, string output, string err) = QemuImg.Run("qemu-img", "check", "-f", format, basePath);
            Assert.True(code == 0 || (format == "vpc" && code == 63), output + err);
        }
    }

    private static void WriteLayer(string path, ImageCreateOptions options, (long Offset, int Length)[] writes, byte[] expected, int seed)
    {
        var rng = new Random(seed);
        using IDiskImage image = DiskImage.Create(path, options);
        Assert.Equal(expected.Length, image.VirtualSize);
        TestData.AssertSame(expected, TestData.ReadAll(image), "new child shows its parent");
        foreach ((long offset, int length) in writes)
        {
            byte[] data = new byte[length];
            rng.NextBytes(data);
            image.Write(offset, data);
            data.CopyTo(expected, offset);
        }
        image.WriteZeroes(2L << 20, 4096, Block.ZeroingMode.MayUnmap);
        expected.AsSpan(2 << 20, 4096).Clear();
        TestData.AssertSame(expected, TestData.ReadAll(image), "child before close");
        MapRecord[] map = [.. ImageMap.Map(image)];
        Assert.Contains(map, r => r.Depth > 0);
        Assert.Contains(map, r => r.Depth == 0 && r.Data);
        Assert.Equal(expected.Length, map.Sum(r => r.Length));
    }

    [Fact]
    public void Vhdx_child_is_refused_after_its_parent_changes()
    {
        using var dir = new TempDir();
        string basePath = dir.File("base.vhdx");
        QemuImg.Img("create", "-f", "vhdx", basePath, "4M");
        string child = dir.File("child.vhdx");
        DiskImage.Create(child, new ImageCreateOptions { Format = ImageFormat.Vhdx, BackingFile = "base.vhdx" }).Dispose();
        DiskImage.Open(child, new ImageOpenOptions { ReadOnly = true }).Dispose();
        // A write through qemu-io gives the parent a new data write GUID: the child's linkage no longer matches.
        FormatFixtures.Io("vhdx", basePath, "write -P 0x01 0 4k");
        var e = Assert.Throws<ImageException>(() => DiskImage.Open(child, new ImageOpenOptions { ReadOnly = true }));
        Assert.Equal(ImageErrorKind.BackingChain, e.Kind);
        Assert.Contains("parent linkage", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Vhdx_parent_is_found_by_relative_path_after_moving_the_chain_and_by_absolute_path_when_it_stays()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("images"));
        Directory.CreateDirectory(dir.File("images/children"));
        string basePath = dir.File("images/base.vhdx");
        QemuImg.Img("create", "-f", "vhdx", basePath, "4M");
        FormatFixtures.Io("vhdx", basePath, "write -P 0x5a 0 4M");
        string child = dir.File("images/children/child.vhdx");
        DiskImage.Create(child, new ImageCreateOptions { Format = ImageFormat.Vhdx, BackingFile = "../base.vhdx" }).Dispose();
        using (var image = (VhdxImage)DiskImage.Open(child, new ImageOpenOptions { ReadOnly = true }))
        {
            Assert.Equal(@"..\base.vhdx", ((IImageDetails)image).BackingFileName);
        }

        // The whole tree moved: the relative path still finds the parent.
        Directory.Move(dir.File("images"), dir.File("moved"));
        string moved = dir.File("moved/children/child.vhdx");
        using (IDiskImage image = DiskImage.Open(moved, new ImageOpenOptions { ReadOnly = true }))
        {
            Assert.Equal(Path.GetFullPath(dir.File("moved/base.vhdx")), Path.GetFullPath(image.Backing!.FilePath));
            byte[] b = new byte[512];
            image.Read(4096, b);
            Assert.All(b, x => Assert.Equal(0x5a, x));
        }

        // Only the child moved: the relative path misses and the absolute path finds the parent.
        Directory.Move(dir.File("moved"), dir.File("images"));
        File.Move(dir.File("images/children/child.vhdx"), dir.File("child.vhdx"));
        using (IDiskImage image = DiskImage.Open(dir.File("child.vhdx"), new ImageOpenOptions { ReadOnly = true }))
        {
            Assert.Equal(Path.GetFullPath(basePath), image.Backing!.FilePath);
        }

        File.Delete(basePath);
        var e = Assert.Throws<ImageException>(() => DiskImage.Open(dir.File("child.vhdx"), new ImageOpenOptions { ReadOnly = true }));
        Assert.Equal(ImageErrorKind.BackingChain, e.Kind);
    }

    [Fact]
    public void Differencing_vhdx_write_interrupted_after_the_log_is_replayed_with_its_bitmap()
    {
        using var dir = new TempDir();
        string basePath = dir.File("base.vhdx");
        QemuImg.Img("create", "-f", "vhdx", "-o", "block_size=1M", basePath, "4M");
        FormatFixtures.Io("vhdx", basePath, "write -P 0x33 0 4M");
        string child = dir.File("child.vhdx");
        DiskImage.Create(child, new ImageCreateOptions { Format = ImageFormat.Vhdx, BackingFile = "base.vhdx" }).Dispose();
        byte[] pattern = new byte[1000];
        pattern.AsSpan().Fill(0xC4);
        using (var image = (VhdxImage)DiskImage.Open(child))
        {
            image.StopAfterLogWrite = true;
            Assert.Throws<IOException>(() => image.Write((2 << 20) + 100, pattern));
        }
        var refused = Assert.Throws<ImageException>(() => DiskImage.Open(child, new ImageOpenOptions { ReadOnly = true }));
        Assert.Contains("check -r all", refused.Message, StringComparison.Ordinal);
        byte[] expected = new byte[4 << 20];
        expected.AsSpan().Fill(0x33);
        pattern.CopyTo(expected, (2 << 20) + 100);
        DiskImage.Open(child).Dispose();
        using (IDiskImage image = DiskImage.Open(child, new ImageOpenOptions { ReadOnly = true }))
        {
            TestData.AssertSame(expected, TestData.ReadAll(image), "after replay");
        }
        Assert.Equal(FormatFixtures.Md5(expected), FormatFixtures.LibvhdiMd5(child, basePath));
    }

    [Fact]
    public void A_vhdx_child_naming_itself_as_parent_is_refused_as_a_loop()
    {
        using var dir = new TempDir();
        QemuImg.Img("create", "-f", "vhdx", dir.File("b.vhdx"), "4M");
        string child = dir.File("c.vhdx");
        DiskImage.Create(child, new ImageCreateOptions { Format = ImageFormat.Vhdx, BackingFile = "b.vhdx" }).Dispose();
        // Same length, so the locator's offsets stay valid: every path in it now names the child itself.
        byte[] bytes = File.ReadAllBytes(child);
        byte[] from = System.Text.Encoding.Unicode.GetBytes("b.vhdx");
        byte[] to = System.Text.Encoding.Unicode.GetBytes("c.vhdx");
        int replaced = 0;
        for (int i = bytes.AsSpan().IndexOf(from); i >= 0; i = bytes.AsSpan().IndexOf(from))
        {
            to.CopyTo(bytes, i);
            replaced++;
        }
        Assert.True(replaced >= 2, "the locator should name the parent in relative_path and absolute_win32_path");
        File.WriteAllBytes(child, bytes);
        var e = Assert.Throws<ImageException>(() => DiskImage.Open(child, new ImageOpenOptions { ReadOnly = true }));
        Assert.Equal(ImageErrorKind.BackingChain, e.Kind);
        Assert.Contains("loop", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Differencing_images_refuse_a_parent_of_another_format_or_size()
    {
        using var dir = new TempDir();
        QemuImg.Img("create", "-f", "qcow2", dir.File("base.qcow2"), "4M");
        QemuImg.Img("create", "-f", "vhdx", dir.File("base.vhdx"), "4M");
        var wrongFormat = Assert.Throws<ImageException>(() => DiskImage.Create(dir.File("c.vhdx"), new ImageCreateOptions { Format = ImageFormat.Vhdx, BackingFile = "base.qcow2" }));
        Assert.Equal(ImageErrorKind.InvalidOption, wrongFormat.Kind);
        var wrongSize = Assert.Throws<ImageException>(() => DiskImage.Create(dir.File("c.vhdx"), new ImageCreateOptions { Format = ImageFormat.Vhdx, BackingFile = "base.vhdx", Size = 8 << 20 }));
        Assert.Contains("parent's size", wrongSize.Message, StringComparison.Ordinal);
        var vpcOverVhdx = Assert.Throws<ImageException>(() => DiskImage.Create(dir.File("c.vhd"), new ImageCreateOptions { Format = ImageFormat.Vpc, BackingFile = "base.vhdx" }));
        Assert.Equal(ImageErrorKind.InvalidOption, vpcOverVhdx.Kind);
    }
}
