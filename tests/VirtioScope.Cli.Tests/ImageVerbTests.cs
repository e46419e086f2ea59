using System.Text.Json;

namespace VirtioScope.Cli.Tests;

public sealed class ImageVerbTests
{
    [Theory]
    [InlineData("qcow2", "")]
    [InlineData("qcow2", "-c")]
    [InlineData("qcow2", "-c,zstd")]
    [InlineData("qcow2", "cluster_size=4k,refcount_bits=1,compat=1.1")]
    [InlineData("qcow2", "compat=0.10,cluster_size=512")]
    [InlineData("qcow2", "extended_l2=on,cluster_size=32k")]
    [InlineData("raw", "")]
    public void Convert_raw_to_image_and_back_is_clean_and_identical(string format, string variant)
    {
        using var dir = new TempDir();
        string src = dir.MakeRaw("src.raw", 3 << 20, variant.Length);
        string dst = dir.File("out." + format);
        var args = new List<string> { "convert", "-O", format };
        string opts = variant.Replace("-c,", "", StringComparison.Ordinal).Replace("-c", "", StringComparison.Ordinal);
        if (variant.StartsWith("-c", StringComparison.Ordinal))
        {
            args.Add("-c");
            if (opts == "zstd")
            {
                opts = "compression_type=zstd";
            }
        }
        if (opts.Length > 0)
        {
            args.AddRange(["-o", opts]);
        }
        args.AddRange([src, dst]);
        Tools.AssertOk(Tools.Cli([.. args]));
        if (format == "qcow2")
        {
            Tools.AssertCleanAndEqual(dst, src);
        }
        Tools.Qemu("compare", dst, src);
        string back = dir.File("back.raw");
        Tools.AssertOk(Tools.Cli("convert", "-O", "raw", dst, back));
        Assert.Equal(File.ReadAllBytes(src), File.ReadAllBytes(back));
    }

    [Fact]
    public void Convert_concatenates_sources_honours_S0_and_json_progress()
    {
        using var dir = new TempDir();
        string a = dir.MakeRaw("a.raw", 1 << 20, 1);
        string b = dir.MakeRaw("b.raw", 2 << 20, 2);
        string dst = dir.File("cat.qcow2");
        var r = Tools.Cli("convert", "-m", "1", "-O", "qcow2", "-S", "0", "--progress", "json", a, b, dst);
        Tools.AssertOk(r);
        string last = r.Out.Trim().Split('\n')[^1];
        using (JsonDocument doc = JsonDocument.Parse(last))
        {
            Assert.Equal(3 << 20, doc.RootElement.GetProperty("bytes-done").GetInt64());
            Assert.Equal(3 << 20, doc.RootElement.GetProperty("bytes-total").GetInt64());
        }
        string expected = dir.File("expected.raw");
        File.WriteAllBytes(expected, [.. File.ReadAllBytes(a), .. File.ReadAllBytes(b)]);
        Tools.AssertCleanAndEqual(dst, expected);
        string info = Tools.Qemu("check", "--output", "json", dst);
        using JsonDocument check = JsonDocument.Parse(info);
        // -S 0: every cluster allocated.
        Assert.Equal(check.RootElement.GetProperty("total-clusters").GetInt64(), check.RootElement.GetProperty("allocated-clusters").GetInt64());
    }

    [Fact]
    public void Convert_with_B_writes_only_differences_and_l_reads_a_snapshot()
    {
        using var dir = new TempDir();
        string baseRaw = dir.MakeRaw("base.raw", 2 << 20, 5);
        string baseImg = dir.File("base.qcow2");
        Tools.Qemu("convert", "-O", "qcow2", baseRaw, baseImg);
        Tools.Qemu("snapshot", "-c", "orig", baseImg);
        Tools.QemuIo(baseImg, "write -P 0x5a 64k 128k");
        string changed = dir.File("changed.raw");
        Tools.Qemu("convert", "-O", "raw", baseImg, changed);
        string overlay = dir.File("overlay.qcow2");
        Tools.AssertOk(Tools.Cli("convert", "-O", "qcow2", "-B", baseRaw, "-F", "raw", changed, overlay));
        Tools.AssertCleanAndEqual(overlay, changed);
        using (JsonDocument map = JsonDocument.Parse(Tools.Qemu("map", "--output", "json", overlay)))
        {
            long own = map.RootElement.EnumerateArray().Where(e => e.GetProperty("depth").GetInt32() == 0 && e.GetProperty("data").GetBoolean()).Sum(e => e.GetProperty("length").GetInt64());
            Assert.Equal(128 * 1024, own);
        }
        string fromSnap = dir.File("snap.raw");
        Tools.AssertOk(Tools.Cli("convert", "-l", "orig", "-O", "raw", baseImg, fromSnap));
        Assert.Equal(File.ReadAllBytes(baseRaw), File.ReadAllBytes(fromSnap));
    }

    [Fact]
    public void Convert_p_without_a_terminal_prints_percentages_and_resize_takes_negative_sizes()
    {
        using var dir = new TempDir();
        string src = dir.MakeRaw("src.raw", 2 << 20, 12);
        string dst = dir.File("p.qcow2");
        var r = Tools.Cli("convert", "-p", "-O", "qcow2", src, dst);
        Tools.AssertOk(r);
        Assert.Contains("(100.00/100%)", r.Out, StringComparison.Ordinal);
        Tools.AssertOk(Tools.Cli("resize", "--shrink", dst, "--", "-1M"));
        Assert.Contains("\"virtual-size\": 1048576", Tools.Qemu("info", "--output", "json", dst), StringComparison.Ordinal);
        Tools.AssertOk(Tools.Run("qemu-img", "check", dst));
    }

    [Theory]
    [InlineData("raw")]
    [InlineData("qcow2")]
    [InlineData("qcow2", "-c")]
    [InlineData("qcow2", "-c", "-W")]
    [InlineData("qcow2", "-m", "1")]
    public void Convert_reads_holes_and_backing_chains_by_allocation_and_matches_qemu_img(string format, params string[] flags)
    {
        using var dir = new TempDir();
        // A sparse raw file whose 4 KiB data runs straddle 64 KiB clusters and 2 MiB chunks, under a two-level chain
        // with 4 KiB clusters whose top layer overwrites, zeroes and discards parts of what is below.
        string raw = dir.File("base.raw");
        using (FileStream f = File.Create(raw))
        {
            f.SetLength(9 << 20);
            var rng = new Random(5);
            byte[] block = new byte[12 << 10];
            foreach (long at in new long[] { 4 << 10, 60 << 10, (2 << 20) - (4 << 10), 3 << 20, (8 << 20) + (52 << 10) })
            {
                rng.NextBytes(block);
                f.Position = at;
                f.Write(block);
            }
        }
        string mid = dir.File("mid.qcow2");
        Tools.Qemu("create", "-f", "qcow2", "-o", "cluster_size=4096", "-b", raw, "-F", "raw", mid);
        Tools.QemuIo(mid, "write -P 0x5a 1M 68k");
        string top = dir.File("top.qcow2");
        Tools.Qemu("create", "-f", "qcow2", "-b", mid, "-F", "qcow2", top);
        Tools.QemuIo(top, "write -P 0x33 2044k 8k");
        Tools.QemuIo(top, "write -z 64k 64k");
        Tools.QemuIo(top, "write -P 0 3M 4k");
        string expected = dir.File("expected.raw");
        Tools.Qemu("convert", "-O", "raw", top, expected);
        string dst = dir.File("out." + format);
        Tools.AssertOk(Tools.Cli(["convert", "-O", format, .. flags, top, dst]));
        if (format == "qcow2")
        {
            Tools.AssertCleanAndEqual(dst, expected);
        }
        Tools.Qemu("compare", "-f", format, "-F", "raw", dst, expected);
    }

    [Fact]
    public void Convert_n_writes_into_an_existing_image()
    {
        using var dir = new TempDir();
        string src = dir.MakeRaw("src.raw", 1 << 20, 9);
        string dst = dir.File("dst.qcow2");
        Tools.Qemu("create", "-f", "qcow2", dst, "1M");
        Tools.QemuIo(dst, "write -P 0x77 0 1M");
        Tools.AssertOk(Tools.Cli("convert", "-n", "-O", "qcow2", src, dst));
        Tools.AssertCleanAndEqual(dst, src);
    }

    [Theory]
    [InlineData("cluster_size=65536")]
    [InlineData("compat=0.10")]
    [InlineData("compression_type=zstd,lazy_refcounts=on,refcount_bits=4")]
    [InlineData("extended_l2=on,preallocation=metadata")]
    [InlineData("preallocation=full,cluster_size=4k")]
    [InlineData("preallocation=falloc")]
    public void Create_makes_images_qemu_accepts_and_info_matches_qemu(string options)
    {
        using var dir = new TempDir();
        string img = dir.File("new.qcow2");
        Tools.AssertOk(Tools.Cli("create", "-f", "qcow2", "-o", options, img, "3M"));
        Tools.AssertOk(Tools.Run("qemu-img", "check", img));
        using JsonDocument ours = JsonDocument.Parse(Tools.Cli("info", "--output", "json", img).Out);
        using JsonDocument theirs = JsonDocument.Parse(Tools.Qemu("info", "--output", "json", img));
        foreach (string field in new[] { "virtual-size", "cluster-size", "format", "dirty-flag", "filename" })
        {
            Assert.Equal(theirs.RootElement.GetProperty(field).ToString(), ours.RootElement.GetProperty(field).ToString());
        }
        JsonElement theirData = theirs.RootElement.GetProperty("format-specific").GetProperty("data");
        JsonElement ourData = ours.RootElement.GetProperty("format-specific").GetProperty("data");
        foreach (JsonProperty p in ourData.EnumerateObject())
        {
            Assert.Equal(theirData.GetProperty(p.Name).ToString(), p.Value.ToString());
        }
    }

    [Fact]
    public void Info_lists_persistent_bitmaps_as_qemu_img_does()
    {
        using var dir = new TempDir();
        string img = dir.File("bm.qcow2");
        Tools.Qemu("create", "-f", "qcow2", img, "4M");
        Tools.Qemu("bitmap", "--add", img, "tracked");
        Tools.Qemu("bitmap", "--add", "--disable", "-g", "128k", img, "frozen");
        using JsonDocument ours = JsonDocument.Parse(Tools.Cli("info", "--output", "json", img).Out);
        using JsonDocument theirs = JsonDocument.Parse(Tools.Qemu("info", "--output", "json", img));
        // Compared compactly: qemu-img spreads an empty array over two lines.
        Assert.Equal(
            JsonSerializer.Serialize(theirs.RootElement.GetProperty("format-specific")),
            JsonSerializer.Serialize(ours.RootElement.GetProperty("format-specific")));
        string Specific(string text) => text[text.IndexOf("Format specific information:", StringComparison.Ordinal)..];
        var human = Tools.Cli("info", img);
        Tools.AssertOk(human);
        Assert.Equal(Specific(Tools.Qemu("info", img)), Specific(human.Out));
    }

    [Fact]
    public void Create_with_backing_and_info_backing_chain()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("sub"));
        Tools.AssertOk(Tools.Cli("create", "-f", "qcow2", dir.File("sub/base.qcow2"), "2M"));
        Tools.AssertOk(Tools.Cli("create", "-f", "qcow2", "-b", "sub/base.qcow2", "-F", "qcow2", dir.File("top.qcow2")));
        Tools.AssertOk(Tools.Run("qemu-img", "check", dir.File("top.qcow2")));
        var r = Tools.Cli("info", "--backing-chain", "--output", "json", dir.File("top.qcow2"));
        Tools.AssertOk(r);
        using JsonDocument doc = JsonDocument.Parse(r.Out);
        Assert.Equal(2, doc.RootElement.GetArrayLength());
        Assert.Equal("sub/base.qcow2", doc.RootElement[0].GetProperty("backing-filename").GetString());
        Assert.Equal(dir.File("sub/base.qcow2"), doc.RootElement[0].GetProperty("full-backing-filename").GetString());
        Assert.Equal(2 << 20, doc.RootElement[0].GetProperty("virtual-size").GetInt64());
    }

    [Fact]
    public void Map_matches_qemu_img_map()
    {
        using var dir = new TempDir();
        string b = dir.File("b.qcow2");
        Tools.Qemu("create", "-f", "qcow2", b, "4M");
        Tools.QemuIo(b, "write -P 1 0 256k", "write -P 2 3M 64k");
        string t = dir.File("t.qcow2");
        Tools.Qemu("create", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", t);
        Tools.QemuIo(t, "write -P 3 64k 64k", "write -z 1M 128k", "write -P 4 2M 300k");
        string raw = dir.MakeRaw("holes.raw", 2 << 20, 11);
        using (var f = new FileStream(raw, FileMode.Open, FileAccess.Write))
        {
            f.SetLength(0);
            f.SetLength(2 << 20);
            f.Position = 192 * 1024;
            f.Write(new byte[65536].Select(_ => (byte)1).ToArray());
        }
        // Zeroed without unmapping: the clusters (and, with extended L2, the subclusters) keep their host offsets.
        string z = dir.File("z.qcow2");
        Tools.Qemu("create", "-f", "qcow2", z, "1M");
        Tools.QemuIo(z, "write -P 5 0 512k", "write -z 128k 128k");
        string x = dir.File("x.qcow2");
        Tools.Qemu("create", "-f", "qcow2", "-o", "extended_l2=on", x, "1M");
        Tools.QemuIo(x, "write -P 6 0 64k", "write -z 8k 8k");
        foreach (string img in new[] { b, t, raw, z, x })
        {
            string theirs = Tools.Qemu("map", "--output", "json", img);
            var ours = Tools.Cli("map", "--output", "json", img);
            Tools.AssertOk(ours);
            Assert.Equal(theirs.Replace(dir.Path + "/", "", StringComparison.Ordinal), ours.Out.Replace(dir.Path + "/", "", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Check_exit_codes_and_repair()
    {
        using var dir = new TempDir();
        string img = dir.File("c.qcow2");
        Tools.Qemu("create", "-f", "qcow2", img, "1M");
        Tools.QemuIo(img, "write -P 1 0 64k");
        Assert.Equal(0, Tools.Cli("check", img).Code);
        // The refcount block is cluster 2 (qemu's layout). Grow the file by a cluster and count it: a leak.
        using (var f = File.OpenWrite(img))
        {
            f.SetLength(7 * 65536);
            f.Position = (2 * 65536) + (6 * 2);
            f.Write([0, 1]);
        }
        var leaky = Tools.Cli("check", "--output", "json", img);
        Assert.Equal(3, leaky.Code);
        Assert.Contains("\"leaks\": 1", leaky.Out, StringComparison.Ordinal);
        Assert.Equal(3, Tools.Run("qemu-img", "check", img).Code);
        var repaired = Tools.Cli("check", "-r", "leaks", img);
        Assert.Equal(0, repaired.Code);
        Assert.Equal(0, Tools.Run("qemu-img", "check", img).Code);
        // Zero the refcount of the data cluster (cluster 4 in qemu's layout): a corruption.
        using (var f = File.OpenWrite(img))
        {
            f.Position = (2 * 65536) + (4 * 2);
            f.Write([0, 0]);
        }
        Assert.Equal(2, Tools.Run("qemu-img", "check", img).Code);
        Assert.Equal(2, Tools.Cli("check", img).Code);
        Assert.Equal(0, Tools.Cli("check", "-r", "all", img).Code);
        Assert.Equal(0, Tools.Run("qemu-img", "check", img).Code);
        string raw = dir.MakeRaw("r.raw", 4096, 1);
        Assert.Equal(63, Tools.Cli("check", raw).Code);
        File.WriteAllBytes(img, [0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3, .. new byte[200]]);
        var broken = Tools.Cli("check", img);
        Assert.Equal(1, broken.Code);
        Assert.Single(broken.Err.Trim().Split('\n'));
        Assert.DoesNotContain("   at ", broken.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void Compare_exit_codes()
    {
        using var dir = new TempDir();
        string a = dir.MakeRaw("a.raw", 1 << 20, 3);
        string q = dir.File("a.qcow2");
        Tools.Qemu("convert", "-O", "qcow2", a, q);
        var same = Tools.Cli("compare", a, q);
        Assert.Equal(0, same.Code);
        Assert.Contains("Images are identical.", same.Out, StringComparison.Ordinal);
        Tools.QemuIo(q, "write -P 0xee 12345 1");
        var diff = Tools.Cli("compare", a, q);
        Assert.Equal(1, diff.Code);
        Assert.Contains("Content mismatch at offset 12345!", diff.Out, StringComparison.Ordinal);
        Assert.Equal(2, Tools.Cli("compare", a, dir.File("missing.qcow2")).Code);
    }

    [Fact]
    public void Resize_grows_and_shrinks_qcow2_and_raw()
    {
        using var dir = new TempDir();
        string img = dir.File("r.qcow2");
        Tools.Qemu("create", "-f", "qcow2", "-o", "cluster_size=4k", img, "1M");
        Tools.QemuIo(img, "write -P 9 0 1M");
        Tools.AssertOk(Tools.Cli("resize", img, "+40M"));
        Assert.Contains("\"virtual-size\": 42991616", Tools.Qemu("info", "--output", "json", img), StringComparison.Ordinal);
        Tools.AssertOk(Tools.Run("qemu-img", "check", img));
        Tools.QemuIo(img, "write -P 8 40M 64k");
        Assert.NotEqual(0, Tools.Cli("resize", img, "512k").Code);
        Tools.AssertOk(Tools.Cli("resize", "--shrink", img, "512k"));
        Tools.AssertOk(Tools.Run("qemu-img", "check", img));
        Assert.Contains("\"virtual-size\": 524288", Tools.Qemu("info", "--output", "json", img), StringComparison.Ordinal);
        string raw = dir.MakeRaw("r.raw", 1 << 20, 4);
        Tools.AssertOk(Tools.Cli("resize", "-f", "raw", raw, "2M"));
        Assert.Equal(2 << 20, new FileInfo(raw).Length);
    }

    [Fact]
    public void Snapshot_create_list_apply_delete_stay_clean()
    {
        using var dir = new TempDir();
        string img = dir.File("s.qcow2");
        Tools.Qemu("create", "-f", "qcow2", img, "2M");
        Tools.QemuIo(img, "write -P 1 0 1M");
        string v1 = dir.File("v1.raw");
        Tools.Qemu("convert", "-O", "raw", img, v1);
        Tools.AssertOk(Tools.Cli("snapshot", "-c", "one", img));
        Tools.AssertOk(Tools.Run("qemu-img", "check", img));
        Tools.QemuIo(img, "write -P 2 512k 1M");
        Tools.AssertOk(Tools.Cli("snapshot", "-c", "two", img));
        Assert.Contains("two", Tools.Qemu("snapshot", "-l", img), StringComparison.Ordinal);
        Assert.Contains("one", Tools.Cli("snapshot", "-l", img).Out, StringComparison.Ordinal);
        Tools.AssertOk(Tools.Cli("snapshot", "-a", "one", img));
        Tools.AssertCleanAndEqual(img, v1);
        Tools.AssertOk(Tools.Cli("snapshot", "-d", "two", img));
        Tools.AssertOk(Tools.Cli("snapshot", "-d", "one", img));
        Tools.AssertCleanAndEqual(img, v1);
        Assert.DoesNotContain("one", Tools.Qemu("snapshot", "-l", img), StringComparison.Ordinal);
    }
}

public sealed class LargeSparseImageTests
{
    [Fact]
    public void Info_and_map_of_a_1_TiB_sparse_image_touch_only_metadata()
    {
        using var dir = new TempDir();
        string img = dir.File("tera.qcow2");
        Tools.AssertOk(Tools.Cli("create", "-q", "-f", "qcow2", img, "1T"));
        Tools.QemuIo(img, "write -P 1 512G 64k");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var map = Tools.Cli("map", "--output", "json", img);
        Tools.AssertOk(map);
        Assert.Equal(Tools.Qemu("map", "--output", "json", img), map.Out);
        var info = Tools.Cli("info", "--output", "json", img);
        Tools.AssertOk(info);
        Assert.Contains("\"virtual-size\": 1099511627776", info.Out, StringComparison.Ordinal);
        // Reading 1 TiB would take minutes; metadata takes well under a few seconds even on a loaded machine.
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"took {sw.Elapsed}");
        Assert.True(new FileInfo(img).Length < (2 << 20));
    }

    [Fact]
    public void Check_human_summary_matches_qemu_img_for_plain_and_compressed_images()
    {
        using var dir = new TempDir();
        string plain = dir.File("plain.qcow2");
        string packed = dir.File("packed.qcow2");
        Tools.Qemu("create", "-f", "qcow2", plain, "16M");
        Tools.QemuIo(plain, "write -P 3 0 1M", "write -P 4 4M 64k");
        Tools.Qemu("convert", "-c", "-O", "qcow2", plain, packed);
        foreach (string img in new[] { plain, packed })
        {
            var ours = Tools.Cli("check", img);
            Tools.AssertOk(ours);
            // Fragmented and compressed percentages are of allocated clusters; compressed ones count as fragmented.
            Assert.Equal(Tools.Qemu("check", img), ours.Out);
        }
    }
}
