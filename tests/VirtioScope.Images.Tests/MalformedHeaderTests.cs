using System.Buffers.Binary;

namespace VirtioScope.Images.Tests;

/// <summary>One test per header field: each malformed value is refused with an error naming the file and the field.</summary>
public sealed class MalformedHeaderTests
{
    private static string MakeImage(TempDir dir, string options = "cluster_size=4096")
    {
        string img = dir.File("m.qcow2");
        QemuImg.Img("create", "-f", "qcow2", "-o", options, img, "1M");
        QemuImg.Io(img, "write -P 3 0 8k");
        return img;
    }

    private static void Patch(string path, int offset, ReadOnlySpan<byte> bytes)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Write);
        f.Position = offset;
        f.Write(bytes);
    }

    private static void PatchU32(string path, int offset, uint value)
    {
        byte[] b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, value);
        Patch(path, offset, b);
    }

    private static void PatchU64(string path, int offset, ulong value)
    {
        byte[] b = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(b, value);
        Patch(path, offset, b);
    }

    private static ImageException AssertRefused(string path, string field, bool readOnly = true)
    {
        var e = Assert.Throws<ImageException>(() => DiskImage.Open(path, new ImageOpenOptions { ReadOnly = readOnly }).Dispose());
        Assert.Equal(path, e.FilePath);
        Assert.Equal(field, e.Field);
        Assert.StartsWith(path + ": " + field + ": ", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    [Theory]
    [InlineData(1u)]
    [InlineData(4u)]
    public void Version(uint version)
    {
        using var dir = new TempDir();
        string img = MakeImage(dir);
        PatchU32(img, 4, version);
        AssertRefused(img, "version");
    }

    [Theory]
    [InlineData(8u)]
    [InlineData(22u)]
    [InlineData(64u)]
    public void Cluster_bits(uint bits)
    {
        using var dir = new TempDir();
        string img = MakeImage(dir);
        PatchU32(img, 20, bits);
        AssertRefused(img, "cluster_bits");
    }

    [Fact]
    public void Size_too_large()
    {
        using var dir = new TempDir();
        string img = MakeImage(dir);
        PatchU64(img, 24, ulong.MaxValue);
        AssertRefused(img, "size");
    }

    [Fact]
    public void Size_larger_than_the_L1_table_maps()
    {
        using var dir = new TempDir();
        string img = MakeImage(dir);
        PatchU64(img, 24, 1UL << 40);
        AssertRefused(img, "l1_size");
    }

    [Fact]
    public void Crypt_method()
    {
        using var dir = new TempDir();
        string img = MakeImage(dir);
        PatchU32(img, 32, 1);
        Assert.Equal(ImageErrorKind.UnsupportedFeature, AssertRefused(img, "crypt_method").Kind);
    }

    [Fact]
    public void L1_size_over_qemu_limit()
    {
        using var dir = new TempDir();
        string img = MakeImage(dir);
        PatchU32(img, 36, 0x7FFFFFFF);
        AssertRefused(img, "l1_size");
    }

    [Theory]
    [InlineData(0x1234UL)]
    [InlineData(1UL << 50)]
    public void L1_table_offset(ulong offset)
    {
        using var dir = new TempDir();
        string img = MakeImage(dir);
        PatchU64(img, 40, offset);
        AssertRefused(img, "l1_table_offset");
    }

    [Theory]
    [InlineData(0x1001UL)]
    [InlineData(1UL << 50)]
    public void Refcount_table_offset(ulong offset)
    {
        using var dir = new TempDir();
        string img = MakeImage(dir);
        PatchU64(img, 48, offset);
        AssertRefused(img, "refcount_table_offset");
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(100000u)]
    public void Refcount_table_clusters(uint clusters)
    {
        using var dir = new TempDir();
        string img = MakeImage(dir);
        PatchU32(img, 56, clusters);
        AssertRefused(img, "refcount_table_clusters");
    }

    [Fact]
    public void Nb_snapshots_over_limit()
    {
        using var dir = new TempDir();
        string img = MakeImage(dir);
        PatchU32(img, 60, 70000);
        AssertRefused(img, "nb_snapshots");
    }

    [Fact]
    public void Snapshots_offset_past_end()
    {
        using var dir = new TempDir();
        string img = MakeImage(dir);
        PatchU32(img, 60, 3);
        PatchU64(img, 64, 1UL << 40);
        AssertRefused(img, "snapshots_offset");
    }

    [Fact]
    public void Huge_snapshot_table_entry()
    {
        using var dir = new TempDir();
        string img = MakeImage(dir);
        QemuImg.Img("snapshot", "-c", "s", img);
        byte[] head = File.ReadAllBytes(img);
        long table = (long)BinaryPrimitives.ReadUInt64BigEndian(head.AsSpan(64));
        PatchU32(img, (int)table + 36, 0x7FFFFFFF);
        AssertRefused(img, "snapshot table entry 0");
    }

    [Fact]
    public void Unknown_incompatible_feature_is_named()
    {
        using var dir = new TempDir();
        string img = MakeImage(dir);
        PatchU64(img, 72, 1UL << 9);
        var e = AssertRefused(img, "incompatible_features");
        Assert.Contains("bit 9", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Refcount_order()
    {
        using var dir = new TempDir();
        string img = MakeImage(dir);
        PatchU32(img, 96, 7);
        AssertRefused(img, "refcount_order");
    }

    [Theory]
    [InlineData(100u)]
    [InlineData(108u)]
    [InlineData(0x10000u)]
    public void Header_length(uint length)
    {
        using var dir = new TempDir();
        string img = MakeImage(dir);
        PatchU32(img, 100, length);
        AssertRefused(img, "header_length");
    }

    [Fact]
    public void Compression_type_without_feature_bit()
    {
        using var dir = new TempDir();
        string img = MakeImage(dir);
        Patch(img, 104, [1]);
        AssertRefused(img, "compression_type");
    }

    [Fact]
    public void Backing_file_size()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("b.raw"), new byte[1 << 20]);
        string img = dir.File("m.qcow2");
        QemuImg.Img("create", "-f", "qcow2", "-b", "b.raw", "-F", "raw", img);
        PatchU32(img, 16, 5000);
        AssertRefused(img, "backing_file_size");
    }

    [Fact]
    public void Header_extension_runs_past_header()
    {
        using var dir = new TempDir();
        string img = MakeImage(dir);
        // An (unknown) extension right after the 112-byte header claims to be huge.
        PatchU32(img, 112, 0x12345678);
        PatchU32(img, 112 + 4, 0x00FFFFFF);
        AssertRefused(img, "header extension");
    }

    [Fact]
    public void Corrupt_bit_refuses_read_write_open_but_allows_read()
    {
        using var dir = new TempDir();
        string img = MakeImage(dir);
        PatchU64(img, 72, 2);
        AssertRefused(img, "incompatible_features", readOnly: false);
        using IDiskImage ro = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true });
        Assert.Equal(1 << 20, ro.VirtualSize);
    }

    [Fact]
    public void Backing_chain_loop_and_depth()
    {
        using var dir = new TempDir();
        string a = dir.File("a.qcow2");
        string b = dir.File("b.qcow2");
        QemuImg.Img("create", "-f", "qcow2", a, "1M");
        QemuImg.Img("create", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", b);
        // Point a back at b: qemu-img rebase -u writes the name without opening the chain.
        QemuImg.Img("rebase", "-u", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", a);
        var e = Assert.Throws<ImageException>(() => DiskImage.Open(b).Dispose());
        Assert.Equal(ImageErrorKind.BackingChain, e.Kind);
        Assert.Contains("loop", e.Message, StringComparison.Ordinal);

        string prev = dir.File("d0.qcow2");
        QemuImg.Img("create", "-f", "qcow2", prev, "1M");
        for (int i = 1; i <= 5; i++)
        {
            string next = dir.File($"d{i}.qcow2");
            QemuImg.Img("create", "-f", "qcow2", "-b", $"d{i - 1}.qcow2", "-F", "qcow2", next);
            prev = next;
        }
        var deep = Assert.Throws<ImageException>(() => DiskImage.Open(prev, new ImageOpenOptions { MaxChainDepth = 3 }).Dispose());
        Assert.Equal(ImageErrorKind.BackingChain, deep.Kind);
        using IDiskImage ok = DiskImage.Open(prev, new ImageOpenOptions { ReadOnly = true });
        Assert.NotNull(ok.Backing!.Backing!.Backing!.Backing!.Backing);
    }

    [Fact]
    public void Missing_backing_file_names_the_image()
    {
        using var dir = new TempDir();
        string img = dir.File("t.qcow2");
        File.WriteAllBytes(dir.File("gone.raw"), new byte[4096]);
        QemuImg.Img("create", "-f", "qcow2", "-b", "gone.raw", "-F", "raw", img);
        File.Delete(dir.File("gone.raw"));
        var e = Assert.Throws<ImageException>(() => DiskImage.Open(img).Dispose());
        Assert.Equal(ImageErrorKind.BackingChain, e.Kind);
    }

    [Fact]
    public void Vhdx_vpc_and_vmdk_are_detected_and_open()
    {
        using var dir = new TempDir();
        string vhdx = dir.File("x.vhdx");
        QemuImg.Img("create", "-f", "vhdx", vhdx, "8M");
        Assert.Equal(ImageFormat.Vhdx, FormatDetector.Detect(vhdx));
        using (IDiskImage opened = DiskImage.Open(vhdx, new ImageOpenOptions { ReadOnly = true }))
        {
            Assert.Equal(ImageFormat.Vhdx, opened.Format);
        }
        string vpc = dir.File("x.vpc");
        QemuImg.Img("create", "-f", "vpc", vpc, "8M");
        Assert.Equal(ImageFormat.Vpc, FormatDetector.Detect(vpc));
        string vmdk = dir.File("x.vmdk");
        QemuImg.Img("create", "-f", "vmdk", vmdk, "8M");
        Assert.Equal(ImageFormat.Vmdk, FormatDetector.Detect(vmdk));
    }
}
