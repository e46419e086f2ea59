using VirtioScope.Images.Vhdx;

namespace VirtioScope.Images.Tests.Formats;

/// <summary>VHDX: qemu-img images of every subformat, block and sector size read byte-exact; writes through the log.</summary>
public sealed class VhdxTests
{
    [Theory]
    [InlineData("dynamic", "1M", "on")]
    [InlineData("dynamic", "8M", "off")]
    [InlineData("dynamic", "32M", "on")]
    [InlineData("fixed", "1M", "off")]
    [InlineData("fixed", "2M", "on")]
    public void Reads_qemu_written_image_byte_exact(string subformat, string blockSize, string blockStateZero)
    {
        using var dir = new TempDir();
        string img = dir.File("a.vhdx");
        QemuImg.Img("create", "-f", "vhdx", "-o", $"subformat={subformat},block_size={blockSize},block_state_zero={blockStateZero},log_size=2M", img, "40M");
        FormatFixtures.Io("vhdx", img,
            "write -P 0x11 0 100k",
            "write -P 0x22 4096 8192",
            "write -P 0x33 2M 1M",
            "write -P 0x55 39M 4k");
        byte[] expected = FormatFixtures.ToRaw("vhdx", img, dir.Path);
        using IDiskImage image = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true });
        Assert.Equal(ImageFormat.Vhdx, image.Format);
        Assert.Equal(512, ((VhdxImage)image).LogicalSectorSize);
        TestData.AssertSame(expected, TestData.ReadAll(image), img);
    }

    [Theory]
    [InlineData("test-disk2vhd.vhdx", 268435456L, 2 << 20, "46adcce59438abbcd3bbb2645a003aa8")]
    [InlineData("iotest-dynamic-1G.vhdx", 1073741824L, 32 << 20, "8a5df7512d96578c537279cee90b5e8d")]
    public void Reads_third_party_vhdx_byte_exact(string name, long size, int blockSize, string md5)
    {
        using var dir = new TempDir();
        string img = FormatFixtures.ThirdParty(name, dir);
        using IDiskImage image = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true });
        Assert.Equal(size, image.VirtualSize);
        Assert.Equal(blockSize, ((IImageDetails)image).ClusterSize);
        Assert.Equal(md5, FormatFixtures.Md5(image));
    }

    [Theory]
    [InlineData("dynamic", "1M")]
    [InlineData("dynamic", "8M")]
    [InlineData("fixed", "1M")]
    public void Writes_pass_qemu_check_and_compare_and_survive_qemu_io(string subformat, string blockSize)
    {
        using var dir = new TempDir();
        string img = dir.File("w.vhdx");
        QemuImg.Img("create", "-f", "vhdx", "-o", $"subformat={subformat},block_size={blockSize}", img, "12M");
        FormatFixtures.Io("vhdx", img, "write -P 0x77 5M 4k");
        byte[] expected = new byte[12 << 20];
        expected.AsSpan(5 << 20, 4096).Fill(0x77);
        FormatFixtures.WriteAndVerify("vhdx", img, expected, [(0L, 4096), (1000L, 70000), (2L << 20, 3 << 20), (5L << 20, 512), ((12L << 20) - 700, 700)], 9);

        FormatFixtures.Io("vhdx", img, "write -P 0x99 7M 64k");
        expected.AsSpan(7 << 20, 65536).Fill(0x99);
        using (IDiskImage image = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true }))
        {
            TestData.AssertSame(expected, TestData.ReadAll(image), "after qemu-io");
        }
        TestData.AssertSame(expected, FormatFixtures.ToRaw("vhdx", img, dir.Path), "qemu-img's view after qemu-io");
    }

    [Fact]
    public void Closing_without_flush_leaves_no_log_to_replay()
    {
        using var dir = new TempDir();
        string img = dir.File("c.vhdx");
        QemuImg.Img("create", "-f", "vhdx", img, "4M");
        using (IDiskImage image = DiskImage.Open(img))
        {
            image.Write(1 << 20, new byte[] { 1, 2, 3 });
        }
        QemuImg.Img("convert", "-f", "vhdx", "-O", "raw", img, dir.File("o.raw"));
        using IDiskImage again = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true });
        byte[] b = new byte[3];
        again.Read(1 << 20, b);
        Assert.Equal(new byte[] { 1, 2, 3 }, b);
    }

    /// <summary>
    /// Creates an 8 MiB qemu-img VHDX and writes <paramref name="length"/> bytes of <paramref name="fill"/> at
    /// <paramref name="offset"/>, stopping after the log entry is flushed and before the BAT is written: the log
    /// needs replaying. Returns the bytes written.
    /// </summary>
    private static byte[] InterruptedWrite(string img, long offset, int length, byte fill)
    {
        QemuImg.Img("create", "-f", "vhdx", "-o", "block_size=1M", img, "8M");
        byte[] pattern = new byte[length];
        pattern.AsSpan().Fill(fill);
        using var image = (VhdxImage)DiskImage.Open(img);
        image.StopAfterLogWrite = true;
        Assert.Throws<IOException>(() => image.Write(offset, pattern));
        return pattern;
    }

    [Fact]
    public void Pending_log_is_refused_read_only_and_replayed_read_write()
    {
        using var dir = new TempDir();
        string img = dir.File("log.vhdx");
        byte[] pattern = InterruptedWrite(img, 3 << 20, 4096, 0x5A);
        // The data block and the log entry are on disk; the BAT still says "not present".
        using (var check = File.OpenHandle(img))
        {
            Assert.True(RandomAccess.GetLength(check) > 4 << 20);
        }
        var refused = Assert.Throws<ImageException>(() => DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true }));
        Assert.Contains("check -r all", refused.Message, StringComparison.Ordinal);
        (int code, _, string err) = QemuImg.Run("qemu-img", "convert", "-f", "vhdx", "-O", "raw", img, dir.File("x.raw"));
        Assert.True(code != 0, "qemu-img should also refuse to read the image read-only before replay");
        Assert.Contains("log", err, StringComparison.OrdinalIgnoreCase);

        using (IDiskImage image = DiskImage.Open(img))
        {
            byte[] back = new byte[4096];
            image.Read(3 << 20, back);
            Assert.Equal(pattern, back);
        }
        byte[] expected = new byte[8 << 20];
        pattern.CopyTo(expected, 3 << 20);
        TestData.AssertSame(expected, FormatFixtures.ToRaw("vhdx", img, dir.Path), "qemu-img after our replay");
        Assert.Equal(0, QemuImg.Run("qemu-img", "check", "-f", "vhdx", img).Code);
    }

    [Fact]
    public void Check_reports_a_pending_log_and_repair_replays_it_as_qemu_img_check_does()
    {
        using var dir = new TempDir();
        string img = dir.File("chk.vhdx");
        byte[] pattern = InterruptedWrite(img, 1 << 20, 4096, 0x6B);
        // qemu-img check cannot open it read-only either (exit 1).
        Assert.Equal(1, QemuImg.Run("qemu-img", "check", "-f", "vhdx", img).Code);
        using (IDiskImage image = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true, ForCheck = true, OpenBacking = false }))
        {
            CheckReport r = ((ICheckableImage)image).Check(CheckRepair.None);
            Assert.Equal(1, r.CheckErrors);
            Assert.Contains(r.Messages, m => m.Contains("check -r all", StringComparison.Ordinal));
        }
        using (IDiskImage image = DiskImage.Open(img, new ImageOpenOptions { ForCheck = true, OpenBacking = false }))
        {
            CheckReport r = ((ICheckableImage)image).Check(CheckRepair.All);
            Assert.Equal(0, r.Corruptions + r.CheckErrors);
            Assert.Equal(1, r.CorruptionsFixed);
        }
        Assert.Equal(0, QemuImg.Run("qemu-img", "check", "-f", "vhdx", img).Code);
        byte[] expected = new byte[8 << 20];
        pattern.CopyTo(expected, 1 << 20);
        TestData.AssertSame(expected, FormatFixtures.ToRaw("vhdx", img, dir.Path), "qemu-img after our repair");
    }

    [Fact]
    public void Qemu_replays_a_log_we_wrote()
    {
        using var dir = new TempDir();
        string img = dir.File("qlog.vhdx");
        byte[] pattern = InterruptedWrite(img, 6 << 20, 8192, 0xC3);
        // qemu-io opens read-write and replays the log itself.
        FormatFixtures.Io("vhdx", img, "read -P 0xc3 6M 8k");
        using IDiskImage again = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true });
        byte[] back = new byte[8192];
        again.Read(6 << 20, back);
        Assert.Equal(pattern, back);
    }
}
