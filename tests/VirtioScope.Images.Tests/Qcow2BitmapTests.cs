using System.Buffers.Binary;
using System.Text.Json;
using VirtioScope.Images.Qcow2;

namespace VirtioScope.Images.Tests;

/// <summary>Persistent dirty bitmaps made by qemu-img: counted by check, kept valid (all dirty) by our writes.</summary>
public sealed class Qcow2BitmapTests
{
    private static string MakeImageWithBitmaps(TempDir dir)
    {
        string img = dir.File("bm.qcow2");
        QemuImg.Img("create", "-f", "qcow2", img, "8M");
        QemuImg.Img("bitmap", "--add", img, "tracked");
        QemuImg.Img("bitmap", "--add", "--disable", img, "frozen");
        // qemu-io loads the bitmaps, records these writes in "tracked" and stores it with data clusters on close.
        QemuImg.Io(img, "write -P 0x11 0 1M", "write -P 0x22 5M 64k");
        QemuImg.Img("bitmap", "--merge", "tracked", img, "frozen");
        return img;
    }

    private static (Qcow2Bitmaps Bitmaps, Dictionary<string, ulong[]> Tables) ReadBitmaps(string img)
    {
        using var file = File.OpenHandle(img);
        long length = RandomAccess.GetLength(file);
        byte[] head = new byte[65536];
        RandomAccess.Read(file, head, 0);
        Qcow2Header header = Qcow2Header.Parse(head, length, img);
        Qcow2Bitmaps bitmaps = Qcow2Bitmaps.Read(header, file, length, img) ?? throw new InvalidOperationException("no bitmaps");
        var tables = new Dictionary<string, ulong[]>();
        foreach (Qcow2Bitmaps.Bitmap b in bitmaps.Items)
        {
            byte[] raw = new byte[b.TableSize * 8];
            RandomAccess.Read(file, raw, b.TableOffset);
            tables[b.Name] = Enumerable.Range(0, (int)b.TableSize).Select(i => BinaryPrimitives.ReadUInt64BigEndian(raw.AsSpan(i * 8))).ToArray();
        }
        return (bitmaps, tables);
    }

    [Fact]
    public void Check_counts_bitmap_directory_tables_and_data_clusters_as_qemu_img_does()
    {
        using var dir = new TempDir();
        string img = MakeImageWithBitmaps(dir);
        (Qcow2Bitmaps bitmaps, Dictionary<string, ulong[]> tables) = ReadBitmaps(img);
        Assert.Equal(["tracked", "frozen"], bitmaps.Items.Select(b => b.Name));
        Assert.NotEmpty(Qcow2Bitmaps.DataClusters(tables["tracked"]));
        Assert.Equal(0, QemuImg.Check(img).Code);
        using IDiskImage image = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true });
        CheckReport report = ((ICheckableImage)image).Check(CheckRepair.None);
        Assert.True(report.Leaks == 0 && report.Corruptions == 0, string.Join('\n', report.Messages));
    }

    [Fact]
    public void Writing_marks_enabled_bitmaps_all_dirty_leaves_disabled_ones_and_stays_clean_for_qemu_img()
    {
        using var dir = new TempDir();
        string img = MakeImageWithBitmaps(dir);
        ulong[] frozenBefore = ReadBitmaps(img).Tables["frozen"];
        using (IDiskImage image = DiskImage.Open(img))
        {
            image.Write(3 << 20, new byte[65536].AsSpan());
            var error = Assert.Throws<ImageException>(() => ((IResizableImage)image).Resize(16 << 20, ResizeMode.GrowOnly));
            Assert.Contains("bitmaps", error.Message, StringComparison.Ordinal);
        }
        (int code, string output) = QemuImg.Check(img);
        Assert.True(code == 0, output);
        (_, Dictionary<string, ulong[]> after) = ReadBitmaps(img);
        Assert.All(after["tracked"], e => Assert.Equal(Qcow2Bitmaps.AllOnes, e));
        Assert.Equal(frozenBefore, after["frozen"]);
        using JsonDocument info = JsonDocument.Parse(QemuImg.Img("info", "--output", "json", img));
        JsonElement listed = info.RootElement.GetProperty("format-specific").GetProperty("data").GetProperty("bitmaps");
        Assert.Equal(2, listed.GetArrayLength());
        Assert.All(listed.EnumerateArray(), b => Assert.DoesNotContain("in-use", b.GetProperty("flags").EnumerateArray().Select(f => f.GetString())));
    }

    [Fact]
    public void A_bitmap_directory_past_the_end_of_the_file_is_named_in_the_error_and_reported_by_check()
    {
        using var dir = new TempDir();
        string img = MakeImageWithBitmaps(dir);
        (Qcow2Bitmaps bitmaps, _) = ReadBitmaps(img);
        // Point the directory far past the end of the file, in the extension's data inside the header cluster.
        byte[] head = File.ReadAllBytes(img).AsSpan(0, 65536).ToArray();
        byte[] needle = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(needle, (ulong)bitmaps.DirectoryOffset);
        int at = head.AsSpan().IndexOf(needle);
        Assert.True(at > 0);
        using (FileStream f = File.OpenWrite(img))
        {
            f.Position = at;
            BinaryPrimitives.WriteUInt64BigEndian(needle, 1UL << 40);
            f.Write(needle);
        }
        var error = Assert.Throws<ImageException>(() => DiskImage.Open(img).Dispose());
        Assert.Contains("bitmap_directory_offset", error.Message, StringComparison.Ordinal);
        using IDiskImage image = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true });
        CheckReport report = ((ICheckableImage)image).Check(CheckRepair.None);
        Assert.Contains(report.Messages, m => m.Contains("bitmap_directory_offset", StringComparison.Ordinal));
        Assert.True(report.Corruptions > 0);
    }
}
