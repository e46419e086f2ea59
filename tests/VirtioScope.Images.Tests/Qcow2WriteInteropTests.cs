using System.Text.Json;
using VirtioScope.Block;

namespace VirtioScope.Images.Tests;

/// <summary>Images VirtioScope writes pass qemu-img check with no errors and no leaks, and read back as expected in qemu-img.</summary>
public sealed class Qcow2WriteInteropTests
{
    public static TheoryData<int, int, int, bool, string> Layouts()
    {
        var data = new TheoryData<int, int, int, bool, string>
        {
            { 2, 65536, 16, false, "zlib" },
            { 2, 512, 16, false, "zlib" },
            { 3, 512, 1, false, "zlib" },
            { 3, 4096, 2, false, "zlib" },
            { 3, 4096, 64, false, "zstd" },
            { 3, 65536, 16, false, "zlib" },
            { 3, 65536, 8, true, "zstd" },
            { 3, 2 << 20, 32, false, "zlib" },
            { 3, 16384, 4, true, "zlib" },
        };
        return data;
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Random_writes_zeroes_and_discards_leave_a_clean_image(int version, int clusterSize, int refcountBits, bool extendedL2, string compression)
    {
        using var dir = new TempDir();
        string img = dir.File("w.qcow2");
        const int size = 5 << 20;
        byte[] model = new byte[size];
        var rng = new Random(clusterSize + refcountBits + version);
        using (IDiskImage image = DiskImage.Create(img, new ImageCreateOptions
        {
            Format = ImageFormat.Qcow2, Size = size, Version = version, ClusterSize = clusterSize, RefcountBits = refcountBits,
            ExtendedL2 = extendedL2, Compression = compression == "zstd" ? CompressionType.Zstd : CompressionType.Zlib,
        }))
        {
            for (int i = 0; i < 120; i++)
            {
                int len = rng.Next(1, 200_000);
                int off = rng.Next(0, size - len);
                int op = rng.Next(10);
                if (op < 7)
                {
                    byte[] buf = new byte[len];
                    rng.NextBytes(buf);
                    image.Write(off, buf);
                    buf.CopyTo(model, off);
                }
                else if (op < 9)
                {
                    image.WriteZeroes(off, len, ZeroingMode.MayUnmap);
                    model.AsSpan(off, len).Clear();
                }
                else
                {
                    // Discard leaves contents unspecified; keep the model right by zeroing after it.
                    image.Discard(off, len);
                    image.WriteZeroes(off, len, ZeroingMode.KeepAllocated);
                    model.AsSpan(off, len).Clear();
                }
                if (i % 40 == 0)
                {
                    image.Flush();
                }
            }
            TestData.AssertSame(model, TestData.ReadAll(image), "own read-back");
        }
        (int code, string output) = QemuImg.Check(img);
        Assert.True(code == 0, output);
        TestData.AssertSame(model, QemuImg.ToRaw(img, dir.Path), "qemu-img view");
    }

    [Fact]
    public void Partial_writes_over_a_backing_chain_copy_on_write()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("base"));
        Directory.CreateDirectory(dir.File("mid"));
        string baseImg = dir.File("base/b.qcow2");
        QemuImg.Img("create", "-f", "qcow2", baseImg, "4M");
        QemuImg.Io(baseImg, "write -P 0x61 0 4M");
        string mid = dir.File("mid/m.qcow2");
        QemuImg.Img("create", "-f", "qcow2", "-b", "../base/b.qcow2", "-F", "qcow2", mid);
        QemuImg.Io(mid, "write -P 0x62 1M 100k");
        string top = dir.File("t.qcow2");
        QemuImg.Img("create", "-f", "qcow2", "-o", "extended_l2=on", "-b", "mid/m.qcow2", "-F", "qcow2", top);
        QemuImg.Io(top, "write -P 0x63 1030k 10k", "write -z 3M 64k");
        byte[] expected = QemuImg.ToRaw(top, dir.Path);
        using (IDiskImage image = DiskImage.Open(top))
        {
            Assert.NotNull(image.Backing?.Backing);
            TestData.AssertSame(expected, TestData.ReadAll(image), "chain read");
            byte[] patch = new byte[5000];
            Array.Fill(patch, (byte)0x64);
            image.Write(1_000_000, patch);
            patch.CopyTo(expected, 1_000_000);
            image.Write(3_200_000, patch);
            patch.CopyTo(expected, 3_200_000);
        }
        (int code, string output) = QemuImg.Check(top);
        Assert.True(code == 0, output);
        TestData.AssertSame(expected, QemuImg.ToRaw(top, dir.Path), "after COW writes");
    }

    [Fact]
    public void Snapshots_made_by_qemu_are_listed_and_readable()
    {
        using var dir = new TempDir();
        string img = dir.File("s.qcow2");
        QemuImg.Img("create", "-f", "qcow2", img, "3M");
        QemuImg.Io(img, "write -P 1 0 1M");
        QemuImg.Img("snapshot", "-c", "first", img);
        QemuImg.Io(img, "write -P 2 512k 1M");
        QemuImg.Img("snapshot", "-c", "second", img);
        QemuImg.Io(img, "write -P 3 0 64k");
        using IDiskImage image = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true });
        var store = Assert.IsAssignableFrom<ISnapshotStore>(image);
        Assert.Equal(["first", "second"], store.Snapshots.Select(s => s.Name));
        foreach (string name in new[] { "first", "second" })
        {
            using IDiskImage snap = store.OpenSnapshot(name);
            TestData.AssertSame(QemuImg.ToRaw(img, dir.Path, name), TestData.ReadAll(snap), name);
        }
        TestData.AssertSame(QemuImg.ToRaw(img, dir.Path), TestData.ReadAll(image), "active");
    }

    [Fact]
    public void Writes_after_a_snapshot_copy_on_write_and_keep_the_snapshot()
    {
        using var dir = new TempDir();
        string img = dir.File("s.qcow2");
        QemuImg.Img("create", "-f", "qcow2", img, "3M");
        QemuImg.Io(img, "write -P 1 0 2M");
        QemuImg.Img("snapshot", "-c", "snap", img);
        byte[] snapshotContent = QemuImg.ToRaw(img, dir.Path, "snap");
        byte[] expected = (byte[])snapshotContent.Clone();
        using (IDiskImage image = DiskImage.Open(img))
        {
            byte[] buf = new byte[70000];
            Array.Fill(buf, (byte)9);
            image.Write(30000, buf);
            buf.CopyTo(expected, 30000);
            image.WriteZeroes(1 << 20, 1 << 20, ZeroingMode.MayUnmap);
            expected.AsSpan(1 << 20, 1 << 20).Clear();
        }
        (int code, string output) = QemuImg.Check(img);
        Assert.True(code == 0, output);
        TestData.AssertSame(expected, QemuImg.ToRaw(img, dir.Path), "active");
        TestData.AssertSame(snapshotContent, QemuImg.ToRaw(img, dir.Path, "snap"), "snapshot");
    }

    [Fact]
    public void Dirty_lazy_refcount_image_is_repaired_on_read_write_open()
    {
        using var dir = new TempDir();
        string img = dir.File("l.qcow2");
        QemuImg.Img("create", "-f", "qcow2", "-o", "lazy_refcounts=on", img, "2M");
        // qemu-io's abort leaves the image dirty with refcounts not yet written.
        QemuImg.Run("qemu-io", "-c", "write -P 7 0 300k", "-c", "abort", img);
        string info = QemuImg.Img("info", "--output", "json", img);
        Assert.Contains("\"dirty-flag\": true", info, StringComparison.Ordinal);
        byte[] expected = QemuImg.ToRaw(img, dir.Path);
        using (IDiskImage image = DiskImage.Open(img))
        {
            Assert.False(((IImageDetails)image).DirtyFlag);
            TestData.AssertSame(expected, TestData.ReadAll(image), "after repair");
        }
        (int code, string output) = QemuImg.Check(img);
        Assert.True(code == 0, output);
        Assert.Contains("\"dirty-flag\": false", QemuImg.Img("info", "--output", "json", img), StringComparison.Ordinal);
    }

    [Fact]
    public void Lazy_refcounts_writer_leaves_a_dirty_image_qemu_repairs_and_a_clean_one_on_close()
    {
        using var dir = new TempDir();
        string img = dir.File("lazy.qcow2");
        QemuImg.Img("create", "-f", "qcow2", "-o", "lazy_refcounts=on,cluster_size=4096", img, "4M");
        byte[] data = new byte[300 * 1024];
        new Random(8).NextBytes(data);
        string crashed = dir.File("crashed.qcow2");
        using (IDiskImage image = DiskImage.Open(img))
        {
            image.Write(12345, data);
            image.Flush();
            // What a crash right now leaves: mapping on disk, dirty bit set, refcounts not yet written.
            File.Copy(img, crashed);
            Assert.True(((IImageDetails)image).DirtyFlag);
            image.Write(2 << 20, data);
        }
        using (JsonDocument info = JsonDocument.Parse(QemuImg.Img("info", "--output", "json", img)))
        {
            Assert.False(info.RootElement.GetProperty("dirty-flag").GetBoolean());
        }
        (int code, string output) = QemuImg.Check(img);
        Assert.True(code == 0, output);

        using (JsonDocument info = JsonDocument.Parse(QemuImg.Img("info", "--output", "json", crashed)))
        {
            Assert.True(info.RootElement.GetProperty("dirty-flag").GetBoolean());
        }
        // The refcounts really were left behind: qemu-img check sees the referenced clusters as unreferenced.
        Assert.NotEqual(0, QemuImg.Check(crashed).Code);
        string repaired = dir.File("repaired.qcow2");
        File.Copy(crashed, repaired);
        // qemu-io opens read-write and repairs a dirty image, as our own read-write open does.
        QemuImg.Io(repaired, "read -P 0 0 4k");
        (code, output) = QemuImg.Check(repaired);
        Assert.True(code == 0, output);
        using (IDiskImage ours = DiskImage.Open(crashed))
        {
            Assert.False(((IImageDetails)ours).DirtyFlag);
        }
        (code, output) = QemuImg.Check(crashed);
        Assert.True(code == 0, output);
        byte[] expected = new byte[4 << 20];
        data.CopyTo(expected, 12345);
        TestData.AssertSame(expected, QemuImg.ToRaw(crashed, dir.Path), "crashed image after repair");
    }

    [Fact]
    public void Compressed_writes_are_readable_by_qemu()
    {
        foreach (CompressionType type in new[] { CompressionType.Zlib, CompressionType.Zstd })
        {
            using var dir = new TempDir();
            string img = dir.File("c.qcow2");
            var rng = new Random(3);
            byte[] model = new byte[2 << 20];
            using (IDiskImage image = DiskImage.Create(img, new ImageCreateOptions { Format = ImageFormat.Qcow2, Size = model.Length, Compression = type }))
            {
                var writer = (ICompressedWriter)image;
                byte[] cluster = new byte[writer.ClusterSize];
                byte[] output = new byte[writer.ClusterSize];
                for (long gc = 0; gc < model.Length / cluster.Length; gc++)
                {
                    for (int i = 0; i < cluster.Length; i++)
                    {
                        cluster[i] = (byte)(rng.Next(3) == 0 ? rng.Next(256) : 'x');
                    }
                    int n = writer.Compress(cluster, output);
                    Assert.True(n > 0);
                    writer.WriteCompressed(gc, output.AsSpan(0, n));
                    cluster.CopyTo(model, gc * cluster.Length);
                }
                // Overwriting part of a compressed cluster rewrites it uncompressed.
                image.Write(100, new byte[] { 1, 2, 3 });
                model[100] = 1;
                model[101] = 2;
                model[102] = 3;
            }
            (int code, string checkOutput) = QemuImg.Check(img);
            Assert.True(code == 0, checkOutput);
            TestData.AssertSame(model, QemuImg.ToRaw(img, dir.Path), type.ToString());
        }
    }
}
