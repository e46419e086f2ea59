using VirtioScope.Block;

namespace VirtioScope.Images.Tests;

/// <summary>One shared suite run against every backend: random I/O against an in-memory model, through the block device adapter.</summary>
public sealed class BackendSuiteTests
{
    public static TheoryData<string> Backends() =>
    [
        "raw",
        "qcow2:v2",
        "qcow2:v3",
        "qcow2:512",
        "qcow2:extended_l2",
        "qcow2:refcount1",
        "qcow2:backing",
        "qcow2:data_file",
    ];

    private static IDiskImage Make(string kind, TempDir dir, long size, out byte[] model)
    {
        model = new byte[size];
        string path = dir.File("img");
        ImageCreateOptions o = kind switch
        {
            "raw" => new ImageCreateOptions { Format = ImageFormat.Raw, Size = size },
            "qcow2:v2" => new ImageCreateOptions { Format = ImageFormat.Qcow2, Size = size, Version = 2 },
            "qcow2:512" => new ImageCreateOptions { Format = ImageFormat.Qcow2, Size = size, ClusterSize = 512 },
            "qcow2:extended_l2" => new ImageCreateOptions { Format = ImageFormat.Qcow2, Size = size, ExtendedL2 = true, ClusterSize = 32768 },
            "qcow2:refcount1" => new ImageCreateOptions { Format = ImageFormat.Qcow2, Size = size, RefcountBits = 1, ClusterSize = 4096 },
            "qcow2:data_file" => new ImageCreateOptions { Format = ImageFormat.Qcow2, Size = size, DataFile = dir.File("img.data") },
            _ => new ImageCreateOptions { Format = ImageFormat.Qcow2, Size = size },
        };
        if (kind == "qcow2:backing")
        {
            string basePath = dir.File("base.raw");
            var rng = new Random(1);
            rng.NextBytes(model);
            File.WriteAllBytes(basePath, model);
            o = o with { BackingFile = "base.raw", BackingFormat = ImageFormat.Raw, Size = null };
        }
        return DiskImage.Create(path, o);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Random_io_matches_a_memory_model(string kind)
    {
        using var dir = new TempDir();
        const long size = 3 << 20;
        byte[] model;
        using (IDiskImage image = Make(kind, dir, size, out model))
        using (var backend = new ImageBlockBackend(image))
        {
            Assert.Equal(size, backend.Size);
            var rng = new Random(kind.GetHashCode(StringComparison.Ordinal));
            byte[] buf = new byte[300_000];
            for (int i = 0; i < 250; i++)
            {
                int len = rng.Next(1, buf.Length);
                long off = rng.NextInt64(0, size - len);
                switch (rng.Next(5))
                {
                    case 0:
                    case 1:
                        rng.NextBytes(buf.AsSpan(0, len));
                        backend.Write(off, buf.AsSpan(0, len));
                        buf.AsSpan(0, len).CopyTo(model.AsSpan((int)off));
                        break;
                    case 2:
                        backend.WriteZeroes(off, len, rng.Next(2) == 0 ? ZeroingMode.MayUnmap : ZeroingMode.KeepAllocated);
                        model.AsSpan((int)off, len).Clear();
                        break;
                    case 3:
                        backend.Read(off, buf.AsSpan(0, len));
                        TestData.AssertSame(model.AsSpan((int)off, len).ToArray(), buf.AsSpan(0, len).ToArray(), $"{kind} read {off}+{len}");
                        break;
                    case 4 when image is ICompressedWriter cw && kind != "qcow2:data_file" && rng.Next(2) == 0:
                        // Compressed cluster writes interleaved with everything else (as convert -c -n would do).
                        long gc = rng.NextInt64(0, size / cw.ClusterSize);
                        byte[] cluster = new byte[cw.ClusterSize];
                        cluster.AsSpan().Fill((byte)rng.Next(1, 256));
                        byte[] packed = new byte[cw.ClusterSize];
                        int n = cw.Compress(cluster, packed);
                        Assert.True(n > 0);
                        cw.WriteCompressed(gc, packed.AsSpan(0, n));
                        cluster.CopyTo(model, gc * cw.ClusterSize);
                        break;
                    default:
                        backend.Flush();
                        break;
                }
            }
            TestData.AssertSame(model, TestData.ReadAll(image), kind);
        }
        using (IDiskImage reopened = DiskImage.Open(dir.File("img"), new ImageOpenOptions { ReadOnly = true }))
        {
            TestData.AssertSame(model, TestData.ReadAll(reopened), kind + " reopened");
        }
        if (kind.StartsWith("qcow2", StringComparison.Ordinal))
        {
            (int code, string output) = QemuImg.Check(dir.File("img"));
            Assert.True(code == 0, output);
            TestData.AssertSame(model, QemuImg.ToRaw(dir.File("img"), dir.Path), kind + " via qemu-img");
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Allocation_query_covers_the_disk_and_agrees_with_reads(string kind)
    {
        using var dir = new TempDir();
        const long size = 2 << 20;
        using IDiskImage image = Make(kind, dir, size, out byte[] model);
        byte[] data = new byte[100_000];
        Array.Fill(data, (byte)7);
        image.Write(700_000, data);
        data.CopyTo(model, 700_000);
        long pos = 0;
        while (pos < size)
        {
            MapRecord r = ImageMap.Resolve(image, pos, size - pos);
            Assert.True(r.Length > 0);
            if (r.Zero && !r.Data)
            {
                Assert.False(model.AsSpan((int)pos, (int)r.Length).ContainsAnyExcept((byte)0), $"{kind}: {pos}+{r.Length} mapped zero");
            }
            pos += r.Length;
        }
        Assert.Equal(size, pos);
        Assert.True(ImageMap.Resolve(image, 700_000, 1).Data);
    }

    [Fact]
    public void Raw_discard_punches_holes_and_map_sees_them()
    {
        using var dir = new TempDir();
        using IDiskImage image = DiskImage.Create(dir.File("r.raw"), new ImageCreateOptions { Format = ImageFormat.Raw, Size = 4 << 20 });
        byte[] data = new byte[1 << 20];
        Array.Fill(data, (byte)1);
        image.Write(0, data);
        image.Flush();
        Assert.Equal(ExtentKind.Data, image.GetExtent(0, 4096).Kind);
        Assert.Equal(ExtentKind.Zero, image.GetExtent(2 << 20, 4096).Kind);
        image.Discard(0, 1 << 20);
        Assert.Equal(ExtentKind.Zero, image.GetExtent(0, 4096).Kind);
    }

    [Fact]
    public void External_data_file_made_by_qemu_is_readable_and_writable()
    {
        using var dir = new TempDir();
        string img = dir.File("d.qcow2");
        QemuImg.Img("create", "-f", "qcow2", "-o", $"data_file={dir.File("d.data")}", img, "2M");
        QemuImg.Run("qemu-io", "-c", "write -P 0x42 4k 200k", img);
        byte[] expected = QemuImg.ToRaw(img, dir.Path);
        using (IDiskImage image = DiskImage.Open(img))
        {
            TestData.AssertSame(expected, TestData.ReadAll(image), "data file read");
            Assert.Equal(dir.File("d.data"), image.GetExtent(4096, 1).HostFile);
            byte[] more = new byte[70_000];
            Array.Fill(more, (byte)0x43);
            image.Write(1_000_000, more);
            more.CopyTo(expected, 1_000_000);
        }
        (int code, string output) = QemuImg.Check(img);
        Assert.True(code == 0, output);
        TestData.AssertSame(expected, QemuImg.ToRaw(img, dir.Path), "after writes");
    }

    [Fact]
    public void Unknown_header_extensions_survive_a_read_write_session()
    {
        using var dir = new TempDir();
        string img = dir.File("u.qcow2");
        QemuImg.Img("create", "-f", "qcow2", "-o", "cluster_size=4096", img, "1M");
        byte[] ext = [0x12, 0x34, 0x56, 0x78, 0, 0, 0, 5, (byte)'h', (byte)'e', (byte)'l', (byte)'l', (byte)'o', 0, 0, 0];
        using (var f = new FileStream(img, FileMode.Open, FileAccess.Write))
        {
            f.Position = 112;
            f.Write(ext);
        }
        using (IDiskImage image = DiskImage.Open(img))
        {
            image.Write(0, new byte[9000]);
            ((ISnapshotStore)image).CreateSnapshot("keep");
            ((IResizableImage)image).Resize(4 << 20, ResizeMode.GrowOnly);
        }
        byte[] head = File.ReadAllBytes(img).AsSpan(112, ext.Length).ToArray();
        Assert.Equal(ext, head);
        (int code, string output) = QemuImg.Check(img);
        Assert.True(code == 0, output);
    }

    [Fact]
    public void Refcount_table_grows_when_the_image_outgrows_it()
    {
        using var dir = new TempDir();
        string img = dir.File("g.qcow2");
        // 512-byte clusters and 64-bit refcounts: one refcount block covers 32 KiB, one table cluster 64 blocks (2 MiB).
        using (IDiskImage image = DiskImage.Create(img, new ImageCreateOptions { Format = ImageFormat.Qcow2, Size = 6 << 20, ClusterSize = 512, RefcountBits = 64 }))
        {
            byte[] data = new byte[6 << 20];
            new Random(5).NextBytes(data);
            image.Write(0, data);
        }
        (int code, string output) = QemuImg.Check(img);
        Assert.True(code == 0, output);
    }
}
