using System.Globalization;
using VirtioScope.Images;
using VirtioScope.Mount.Partitions;

namespace VirtioScope.Mount.Tests;

public sealed class PartitionTableTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vs-parts-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static List<(int, long, long)> Parsed(string raw)
    {
        using IDiskImage image = DiskImage.Open(raw, new ImageOpenOptions { ReadOnly = true });
        return PartitionTable.Read(image).Select(p => (p.Number, p.Offset, p.Length)).ToList();
    }

    [Fact]
    public void Mbr_primary_extended_and_logical_partitions_match_sfdisk()
    {
        string raw = Path.Combine(_dir, "mbr.raw");
        File.WriteAllBytes(raw, new byte[16 << 20]);
        Images.Sfdisk(raw, "label: dos\\nstart=2048, size=4096, type=83\\nstart=6144, size=2048, type=c\\nstart=8192, type=5\\nstart=10240, size=4096, type=83\\nstart=16384, size=2048, type=7\\nstart=20480, type=83\\n");
        List<(int, long, long)> expected = Images.SfdiskPartitions(raw);
        Assert.Equal([1, 2, 5, 6, 7], expected.Select(e => e.Item1));
        Assert.Equal(expected, Parsed(raw));
    }

    [Fact]
    public void Gpt_partitions_match_sfdisk_and_keep_their_entry_numbers()
    {
        string raw = Path.Combine(_dir, "gpt.raw");
        File.WriteAllBytes(raw, new byte[16 << 20]);
        Shell.Ok("sgdisk", "-n", "1:2048:+2M", "-n", "2:0:+3M", "-n", "4:0:0", "-t", "4:8300", raw);
        List<(int, long, long)> expected = Images.SfdiskPartitions(raw);
        Assert.Equal([1, 2, 4], expected.Select(e => e.Item1));
        Assert.Equal(expected, Parsed(raw));
    }

    [Fact]
    public void Gpt_with_a_damaged_primary_header_uses_the_backup()
    {
        string raw = Path.Combine(_dir, "gpt.raw");
        File.WriteAllBytes(raw, new byte[8 << 20]);
        Shell.Ok("sgdisk", "-n", "1:2048:+1M", "-n", "2:0:0", raw);
        List<(int, long, long)> expected = Images.SfdiskPartitions(raw);
        using (FileStream f = File.OpenWrite(raw))
        {
            f.Position = 512;
            f.Write(new byte[8]);
        }
        Assert.Equal(expected, Parsed(raw));
    }

    [Fact]
    public void Gpt_on_a_disk_with_4_KiB_logical_sectors_matches_fdisk()
    {
        string raw = Path.Combine(_dir, "gpt4k.raw");
        File.WriteAllBytes(raw, new byte[32 << 20]);
        Shell.Bash($"printf 'g\\nn\\n1\\n256\\n+4M\\nn\\n3\\n\\n+8M\\nw\\n' | fdisk -b 4096 '{raw}' >/dev/null");
        // fdisk's own reading, in 4 KiB sectors: "raw1 256 1279 1024 4M Linux filesystem".
        List<(int, long, long)> expected = Shell.Ok("fdisk", "-l", "-b", "4096", "-o", "Device,Start,Sectors", raw)
            .Split('\n').Where(l => l.StartsWith(raw, StringComparison.Ordinal))
            .Select(l => l[raw.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(f => (int.Parse(f[0], CultureInfo.InvariantCulture), long.Parse(f[1], CultureInfo.InvariantCulture) * 4096, long.Parse(f[2], CultureInfo.InvariantCulture) * 4096))
            .ToList();
        Assert.Equal([1, 3], expected.Select(e => e.Item1));
        Assert.Equal(expected, Parsed(raw));
    }

    [Fact]
    public void A_disk_without_a_table_has_no_partitions()
    {
        string raw = Path.Combine(_dir, "blank.raw");
        File.WriteAllBytes(raw, new byte[1 << 20]);
        Assert.Empty(Parsed(raw));
    }
}
