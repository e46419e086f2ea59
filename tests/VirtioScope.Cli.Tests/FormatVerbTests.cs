using System.Buffers.Binary;
using System.Text.Json;

namespace VirtioScope.Cli.Tests;

/// <summary><c>check</c>, <c>create -b</c> and <c>info</c> on VHDX, VHD and VMDK, against qemu-img where it has an answer.</summary>
public sealed class FormatVerbTests
{
    /// <summary>The check report as name/value pairs (qemu-img's key order is its own, so compare as sets).</summary>
    private static SortedDictionary<string, string> Fields(string json)
    {
        using JsonDocument doc = JsonDocument.Parse(json);
        var d = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (JsonProperty p in doc.RootElement.EnumerateObject())
        {
            d[p.Name] = p.Value.ToString();
        }
        return d;
    }

    private static void AssertSameCheck(string image, int expectedCode)
    {
        var ours = Tools.Cli("check", "--output", "json", image);
        var theirs = Tools.Run("qemu-img", "check", "--output", "json", image);
        Assert.True(expectedCode == ours.Code, $"ours: exit {ours.Code}: {ours.Out}{ours.Err}");
        Assert.True(expectedCode == theirs.Code, $"qemu-img: exit {theirs.Code}: {theirs.Out}{theirs.Err}");
        Assert.Equal(Fields(theirs.Out), Fields(ours.Out));
    }

    private static void Patch(string path, long offset, ReadOnlySpan<byte> bytes)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        f.Position = offset;
        f.Write(bytes);
    }

    private static long ReadLe64(string path, long offset)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read);
        byte[] b = new byte[8];
        f.Position = offset;
        f.ReadExactly(b);
        return BinaryPrimitives.ReadInt64LittleEndian(b);
    }

    /// <summary>Checks a copy of <paramref name="image"/> with <paramref name="bytes"/> written at <paramref name="offset"/>.</summary>
    private static (int Code, string Out, string Err) CheckDamagedCopy(string image, string copy, long offset, ReadOnlySpan<byte> bytes, params string[] options)
    {
        File.Copy(image, copy);
        Patch(copy, offset, bytes);
        return Tools.Cli(["check", .. options, copy]);
    }

    [Fact]
    public void Check_vhdx_matches_qemu_for_clean_and_truncated_images_and_finds_overlaps_and_bad_headers()
    {
        using var dir = new TempDir();
        string img = dir.File("k.vhdx");
        Tools.Qemu("create", "-f", "vhdx", "-o", "block_size=1M", img, "8M");
        Tools.QemuIo(img, "write -P 1 0 3M");
        AssertSameCheck(img, 0);
        // qemu-img's layout: the BAT region at 2 MiB. Entry 1 pointing 1000 MiB into an 11 MiB file: a truncated image.
        const long bat = 2 << 20;
        long entry0 = ReadLe64(img, bat);
        string truncated = dir.File("t.vhdx");
        File.Copy(img, truncated);
        Span<byte> e = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(e, (1000L << 20) | 6);
        Patch(truncated, bat + 8, e);
        AssertSameCheck(truncated, 2);

        // Two blocks at one offset: qemu-img 7.2 does not look for this; we report it.
        BinaryPrimitives.WriteInt64LittleEndian(e, entry0);
        var r = CheckDamagedCopy(img, dir.File("o.vhdx"), bat + 16, e);
        Assert.Equal(2, r.Code);
        Assert.Contains("BAT entry 2 (block at", r.Err, StringComparison.Ordinal);
        Assert.Contains("overlaps BAT entry 0", r.Err, StringComparison.Ordinal);

        // A damaged header copy: the image still opens from the other one, and check names it.
        r = CheckDamagedCopy(img, dir.File("h.vhdx"), (64 << 10) + 100, [0x78]);
        Assert.Equal(2, r.Code);
        Assert.Contains("header 1 at offset 65536", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_vmdk_matches_qemu_for_a_grain_past_the_end()
    {
        using var dir = new TempDir();
        string img = dir.File("k.vmdk");
        Tools.Qemu("create", "-f", "vmdk", img, "4M");
        Tools.QemuIo(img, "write -P 1 0 128k");
        AssertSameCheck(img, 0);
        // Header field gdOffset (sector) at byte 56; the first grain directory entry names the first grain table.
        long gdSector = ReadLe64(img, 56);
        byte[] gd = new byte[4];
        using (var f = File.OpenRead(img))
        {
            f.Position = gdSector * 512;
            f.ReadExactly(gd);
        }
        long gt = BinaryPrimitives.ReadUInt32LittleEndian(gd) * 512L;
        Span<byte> entry = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(entry, 0x100000);
        Patch(img, gt + 4, entry);
        // qemu-img names the same grain but then fails the whole check ("Check failed", exit 1); we count it as a
        // corruption (exit 2), which is what qemu-img's exit codes mean.
        var theirs = Tools.Run("qemu-img", "check", img);
        Assert.Equal(1, theirs.Code);
        var ours = Tools.Cli("check", img);
        Assert.Equal(2, ours.Code);
        const string line = "ERROR: cluster offset for sector 128 points after EOF";
        Assert.Contains(line, theirs.Err, StringComparison.Ordinal);
        Assert.Contains(line, ours.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_vpc_reports_footer_header_and_bat_damage()
    {
        using var dir = new TempDir();
        string img = dir.File("k.vhd");
        Tools.Qemu("create", "-f", "vpc", img, "8M");
        Tools.QemuIo(img, "write -P 1 0 3M");
        // qemu-img has no check for vpc (exit 63); ours checks the footers, the dynamic header and the BAT.
        Assert.Equal(63, Tools.Run("qemu-img", "check", img).Code);
        Assert.Equal(0, Tools.Cli("check", img).Code);
        long length = new FileInfo(img).Length;

        var r = CheckDamagedCopy(img, dir.File("f.vhd"), length - 512 + 24, [0xEE]);
        Assert.Equal(2, r.Code);
        Assert.Contains("footer at the end", r.Err, StringComparison.Ordinal);

        r = CheckDamagedCopy(img, dir.File("d.vhd"), 512 + 40, [0xEE]);
        Assert.Equal(2, r.Code);
        Assert.Contains("dynamic header checksum", r.Err, StringComparison.Ordinal);
        Assert.Equal(1, Tools.Cli("info", dir.File("d.vhd")).Code);

        r = CheckDamagedCopy(img, dir.File("b.vhd"), 1536 + 4, [0x7F, 0, 0, 0], "--output", "json");
        Assert.Equal(2, r.Code);
        Assert.Equal("1", Fields(r.Out)["corruptions"]);
        Assert.False(Fields(r.Out).ContainsKey("image-end-offset"));
    }

    [Theory]
    [InlineData("vmdk", "subformat=monolithicSparse")]
    [InlineData("vmdk", "subformat=streamOptimized")]
    [InlineData("vmdk", "subformat=monolithicFlat")]
    [InlineData("vmdk", "subformat=twoGbMaxExtentSparse")]
    [InlineData("vmdk", "subformat=twoGbMaxExtentFlat")]
    [InlineData("vhdx", "subformat=dynamic")]
    [InlineData("vpc", "subformat=fixed")]
    public void Info_prints_what_qemu_img_prints(string format, string options)
    {
        using var dir = new TempDir();
        string img = dir.File("i." + format);
        Tools.Qemu("create", "-f", format, "-o", options, img, "4M");
        // actual-size is the host's allocation, which differs with the file system's and qemu's own accounting.
        static string WithoutActualSize(string text) =>
            string.Join('\n', text.Split('\n').Where(l => !l.Contains("actual-size", StringComparison.Ordinal) && !l.StartsWith("disk size", StringComparison.Ordinal)));
        foreach (string[] output in new[] { new[] { "--output", "json" }, Array.Empty<string>() })
        {
            var ours = Tools.Cli(["info", "-f", format, .. output, img]);
            Tools.AssertOk(ours);
            Assert.Equal(WithoutActualSize(Tools.Qemu(["info", "-f", format, .. output, img])), WithoutActualSize(ours.Out));
        }
    }

    [Fact]
    public void Convert_to_vmdk_stream_and_sparse_passes_qemu_check_and_compare()
    {
        using var dir = new TempDir();
        string raw = dir.MakeRaw("src.raw", 6 << 20, 21);
        string img = dir.File("appliance.vmdk");
        Tools.AssertOk(Tools.Cli("convert", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, img));
        Tools.AssertCleanAndEqual(img, raw);
        string empty = dir.File("empty.vmdk");
        Tools.AssertOk(Tools.Cli("create", "-f", "vmdk", "-o", "subformat=streamOptimized", empty, "3M"));
        Tools.AssertOk(Tools.Run("qemu-img", "check", empty));
        Assert.Equal(3 << 20, long.Parse(Fields(Tools.Qemu("info", "--output", "json", empty))["virtual-size"], System.Globalization.CultureInfo.InvariantCulture));
        // Without a subformat, as qemu-img: monolithicSparse.
        string sparse = dir.File("sparse.vmdk");
        Tools.AssertOk(Tools.Cli("convert", "-O", "vmdk", raw, sparse));
        Tools.AssertCleanAndEqual(sparse, raw);
        Assert.Equal("monolithicSparse", JsonDocument.Parse(Tools.Qemu("info", "--output", "json", sparse)).RootElement
            .GetProperty("format-specific").GetProperty("data").GetProperty("create-type").GetString());
        var refused = Tools.Cli("convert", "-O", "vmdk", "-o", "subformat=monolithicFlat", raw, dir.File("flat.vmdk"));
        Assert.Equal(1, refused.Code);
        Assert.Contains("monolithicSparse and streamOptimized", refused.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("vhdx", "-b")]
    [InlineData("vhdx", "-o")]
    [InlineData("vpc", "-b")]
    public void Create_differencing_image_shows_its_parent(string format, string how)
    {
        using var dir = new TempDir();
        string parent = dir.File("base." + format);
        Tools.Qemu("create", "-f", format, parent, "4M");
        Tools.QemuIo(parent, "write -P 7 0 1M");
        string child = dir.File("child." + format);
        Tools.AssertOk(how == "-b"
            ? Tools.Cli("create", "-f", format, "-b", "base." + format, child)
            : Tools.Cli("create", "-f", format, "-o", "parent=base." + format, child));
        var info = Tools.Cli("info", "--output", "json", child);
        Tools.AssertOk(info);
        var fields = Fields(info.Out);
        Assert.Equal(format, fields["format"]);
        // VHDX shows its relative_path locator as stored; VHD its parent name field (the file name).
        Assert.Equal(format == "vhdx" ? @".\base.vhdx" : "base.vpc", fields["backing-filename"]);
        Assert.Equal(parent, fields["full-backing-filename"]);
        Assert.Equal(Fields(Tools.Qemu("info", "--output", "json", parent))["virtual-size"], fields["virtual-size"]);
        Tools.AssertOk(Tools.Cli("convert", "-O", "raw", child, dir.File("child.raw")));
        Tools.Qemu("convert", "-f", format, "-O", "raw", parent, dir.File("parent.raw"));
        Assert.Equal(File.ReadAllBytes(dir.File("parent.raw")), File.ReadAllBytes(dir.File("child.raw")));
        Assert.Equal(0, Tools.Cli("check", child).Code);
    }
}
