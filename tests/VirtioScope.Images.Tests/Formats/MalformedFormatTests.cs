using System.Buffers.Binary;
using VirtioScope.Images.Vhdx;
using VirtioScope.Images.Vmdk;
using VirtioScope.Images.Vpc;

namespace VirtioScope.Images.Tests.Formats;

/// <summary>Each hostile field is refused with an ImageException that names the file and the field.</summary>
public sealed class MalformedFormatTests
{
    private static string Vhd(TempDir dir)
    {
        string img = dir.File("m.vhd");
        QemuImg.Img("create", "-f", "vpc", "-o", "subformat=dynamic", img, "4M");
        FormatFixtures.Io("vpc", img, "write -P 1 0 4k");
        return img;
    }

    private static ImageException Refused(string img, ImageFormat format)
    {
        var e = Assert.Throws<ImageException>(() => DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true, Format = format }).Dispose());
        Assert.Equal(img, e.FilePath);
        return e;
    }

    private static void PatchVhdDynamic(string img, Action<byte[]> patch)
    {
        byte[] f = File.ReadAllBytes(img);
        byte[] h = f.AsSpan(512, 1024).ToArray();
        patch(h);
        VpcFooter.Seal(h, VpcDynamicHeader.ChecksumOffset);
        h.CopyTo(f, 512);
        File.WriteAllBytes(img, f);
    }

    [Fact]
    public void Vhd_bad_footer_checksum()
    {
        using var dir = new TempDir();
        string img = Vhd(dir);
        byte[] f = File.ReadAllBytes(img);
        f[VpcFooter.CurrentSizeOffset] ^= 1;
        File.WriteAllBytes(img, f);
        Assert.Equal("footer checksum", Refused(img, ImageFormat.Vpc).Field);
    }

    [Fact]
    public void Vhd_huge_max_table_entries()
    {
        using var dir = new TempDir();
        string img = Vhd(dir);
        PatchVhdDynamic(img, h => BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(VpcDynamicHeader.MaxTableEntriesOffset), 0x7FFFFFFF));
        Assert.Equal("max table entries", Refused(img, ImageFormat.Vpc).Field);
    }

    [Fact]
    public void Vhd_block_size_not_power_of_two()
    {
        using var dir = new TempDir();
        string img = Vhd(dir);
        PatchVhdDynamic(img, h => BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(VpcDynamicHeader.BlockSizeOffset), 3 << 20));
        Assert.Equal("block size", Refused(img, ImageFormat.Vpc).Field);
    }

    [Fact]
    public void Vhd_bat_entry_past_end_of_file()
    {
        using var dir = new TempDir();
        string img = Vhd(dir);
        byte[] f = File.ReadAllBytes(img);
        long bat = BinaryPrimitives.ReadInt64BigEndian(f.AsSpan(512 + VpcDynamicHeader.TableOffsetOffset));
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan((int)bat), 0x00FFFFFF);
        File.WriteAllBytes(img, f);
        Assert.Equal("BAT entry 0", Refused(img, ImageFormat.Vpc).Field);
    }

    [Fact]
    public void Vhd_differencing_parent_missing_or_looping()
    {
        using var dir = new TempDir();
        string img = Vhd(dir);
        byte[] f = File.ReadAllBytes(img);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(VpcFooter.DiskTypeOffset), (uint)VpcDiskType.Differencing);
        VpcFooter.Seal(f.AsSpan(0, 512));
        f.AsSpan(0, 512).CopyTo(f.AsSpan(f.Length - 512));
        File.WriteAllBytes(img, f);
        // No parent locator at all.
        Assert.Equal(ImageErrorKind.BackingChain, Refused(img, ImageFormat.Vpc).Kind);
        // A parent name that points at the image itself is a loop.
        PatchVhdDynamic(img, h => System.Text.Encoding.BigEndianUnicode.GetBytes("m.vhd").CopyTo(h, VpcDynamicHeader.ParentNameOffset));
        var loop = Refused(img, ImageFormat.Vpc);
        Assert.Equal(ImageErrorKind.BackingChain, loop.Kind);
        Assert.Contains("loop", loop.Message, StringComparison.Ordinal);
    }

    private static string Vhdx(TempDir dir)
    {
        string img = dir.File("m.vhdx");
        QemuImg.Img("create", "-f", "vhdx", "-o", "block_size=1M", img, "4M");
        FormatFixtures.Io("vhdx", img, "write -P 1 0 4k");
        return img;
    }

    [Fact]
    public void Vhdx_both_headers_corrupt()
    {
        using var dir = new TempDir();
        string img = Vhdx(dir);
        byte[] f = File.ReadAllBytes(img);
        f[(64 << 10) + 100] ^= 1;
        f[(128 << 10) + 100] ^= 1;
        File.WriteAllBytes(img, f);
        Assert.Equal("header", Refused(img, ImageFormat.Vhdx).Field);
    }

    [Fact]
    public void Vhdx_region_entry_count_too_large()
    {
        using var dir = new TempDir();
        string img = Vhdx(dir);
        byte[] f = File.ReadAllBytes(img);
        foreach (int at in new[] { 192 << 10, 256 << 10 })
        {
            BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(at + VhdxLayout.RegionEntryCountOffset), 5000);
            VhdxLayout.Seal(f.AsSpan(at, 64 << 10), VhdxLayout.RegionChecksumOffset);
        }
        File.WriteAllBytes(img, f);
        Assert.Equal("region table entry count", Refused(img, ImageFormat.Vhdx).Field);
    }

    [Fact]
    public void Vhdx_bat_entry_outside_file_and_bad_state()
    {
        using var dir = new TempDir();
        string img = Vhdx(dir);
        byte[] orig = File.ReadAllBytes(img);
        long batOffset = BatOffset(orig);
        byte[] f = (byte[])orig.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan((int)batOffset), (4096UL << VhdxLayout.BatOffsetShift) | VhdxLayout.PayloadFullyPresent);
        File.WriteAllBytes(img, f);
        Assert.Equal("BAT entry 0", Refused(img, ImageFormat.Vhdx).Field);
        f = (byte[])orig.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan((int)batOffset + 8), 5);
        File.WriteAllBytes(img, f);
        Assert.Equal("BAT entry 1", Refused(img, ImageFormat.Vhdx).Field);
    }

    [Fact]
    public void Vhdx_metadata_item_outside_region()
    {
        using var dir = new TempDir();
        string img = Vhdx(dir);
        byte[] f = File.ReadAllBytes(img);
        long meta = MetadataOffset(f);
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan((int)meta + VhdxLayout.MetadataEntriesOffset + 20), 0x7FFFFFFF);
        File.WriteAllBytes(img, f);
        Assert.Equal("metadata entry 0", Refused(img, ImageFormat.Vhdx).Field);
    }

    [Fact]
    public void Vhdx_log_with_bad_crc_or_sequence_break_is_not_replayed_past_the_last_valid_entry()
    {
        using var dir = new TempDir();
        string img = Vhdx(dir);
        byte[] ones = new byte[4096];
        ones.AsSpan().Fill(1);
        using (var image = (VhdxImage)DiskImage.Open(img))
        {
            // The first entry (sequence 1) is written and applied; the second (sequence 2) only logged.
            image.Write(1 << 20, ones);
            image.StopAfterLogWrite = true;
            Assert.Throws<IOException>(() => image.Write(2 << 20, ones));
        }
        // Corrupt the second entry's data sector: its CRC fails, so the replay ends after the first entry.
        byte[] f = File.ReadAllBytes(img);
        long logOffset = BinaryPrimitives.ReadInt64LittleEndian(f.AsSpan(CurrentHeader(f) + VhdxLayout.HeaderLogOffsetOffset));
        int entryLength = 8192;
        Assert.Equal((byte)'l', f[logOffset + entryLength]);
        f[logOffset + entryLength + 4096 + 100] ^= 0xFF;
        File.WriteAllBytes(img, f);
        using (var image = (VhdxImage)DiskImage.Open(img))
        {
            Assert.Equal(VhdxLayout.PayloadFullyPresent, image.BlockState(1 << 20));
            Assert.NotEqual(VhdxLayout.PayloadFullyPresent, image.BlockState(2 << 20));
            byte[] back = new byte[4096];
            image.Read(1 << 20, back);
            Assert.Equal(ones, back);
        }
    }

    private static int CurrentHeader(byte[] f) =>
        BinaryPrimitives.ReadUInt64LittleEndian(f.AsSpan((64 << 10) + 8)) >= BinaryPrimitives.ReadUInt64LittleEndian(f.AsSpan((128 << 10) + 8)) ? 64 << 10 : 128 << 10;

    private static long RegionOffset(byte[] f, Guid id)
    {
        int t = 192 << 10;
        int count = (int)BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan(t + 8));
        for (int i = 0; i < count; i++)
        {
            int e = t + 16 + i * 32;
            if (new Guid(f.AsSpan(e, 16)) == id)
            {
                return BinaryPrimitives.ReadInt64LittleEndian(f.AsSpan(e + 16));
            }
        }
        throw new InvalidOperationException("region missing");
    }

    private static long BatOffset(byte[] f) => RegionOffset(f, VhdxLayout.BatRegion);

    private static long MetadataOffset(byte[] f) => RegionOffset(f, VhdxLayout.MetadataRegion);

    private static string Vmdk(TempDir dir)
    {
        string img = dir.File("m.vmdk");
        QemuImg.Img("create", "-f", "vmdk", img, "4M");
        return img;
    }

    [Theory]
    [InlineData(VmdkSparseHeader.NumGtesPerGtOffset, 4096L, 4, "num GTEs per GT")]
    [InlineData(VmdkSparseHeader.GrainSizeOffset, 3L, 8, "grain size")]
    [InlineData(VmdkSparseHeader.CapacityOffset, 1L << 50, 8, "capacity")]
    [InlineData(VmdkSparseHeader.GdOffsetOffset, 1L << 40, 8, "gd offset")]
    [InlineData(VmdkSparseHeader.VersionOffset, 9L, 4, "version")]
    public void Vmdk_hostile_header_field(int offset, long value, int width, string field)
    {
        using var dir = new TempDir();
        string img = Vmdk(dir);
        byte[] f = File.ReadAllBytes(img);
        if (width == 4)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(offset), (uint)value);
        }
        else
        {
            BinaryPrimitives.WriteInt64LittleEndian(f.AsSpan(offset), value);
        }
        File.WriteAllBytes(img, f);
        Assert.Equal(field, Refused(img, ImageFormat.Vmdk).Field);
    }

    [Theory]
    [InlineData("RW 2048 FLAT \"missing.raw\" 0", "extent file")]
    [InlineData("RW 99999999999999999999 FLAT \"x.raw\" 0", "extent (line 4)")]
    [InlineData("RW 2048 FLAT \"x.raw\" -5", "extent (line 4)")]
    [InlineData("RW 2048 VMFSSPARSE \"x.raw\"", "extent type")]
    [InlineData("RW 2048 FLAT \"x.raw", "extent (line 4)")]
    public void Vmdk_hostile_descriptor(string extentLine, string field)
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("x.raw"), new byte[1 << 20]);
        string img = dir.File("d.vmdk");
        File.WriteAllText(img, $"# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\n{extentLine}\n");
        Assert.Equal(field, Refused(img, ImageFormat.Vmdk).Field);
    }

    [Fact]
    public void Vmdk_descriptor_too_large()
    {
        using var dir = new TempDir();
        string img = dir.File("big.vmdk");
        File.WriteAllText(img, "# Disk DescriptorFile\ncreateType=\"monolithicFlat\"\n" + new string('#', VmdkDescriptor.MaxBytes));
        Assert.Equal("descriptor", Refused(img, ImageFormat.Vmdk).Field);
    }
}
