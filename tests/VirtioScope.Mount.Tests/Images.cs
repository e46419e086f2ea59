using System.Text.Json;

namespace VirtioScope.Mount.Tests;

/// <summary>Builds small test images with qemu-img, sfdisk, sgdisk and the virtioscope CLI.</summary>
internal static class Images
{
    /// <summary>A raw file: every fourth 64 KiB chunk random, some filled with a letter, the rest holes.</summary>
    public static string PatternRaw(string path, int size, int seed)
    {
        byte[] data = new byte[size];
        var rng = new Random(seed);
        for (int off = 0; off < size; off += 64 * 1024)
        {
            int len = Math.Min(64 * 1024, size - off);
            switch (rng.Next(4))
            {
                case 0: rng.NextBytes(data.AsSpan(off, len)); break;
                case 1: data.AsSpan(off, len).Fill((byte)('A' + rng.Next(26))); break;
                default: break;
            }
        }
        File.WriteAllBytes(path, data);
        return path;
    }

    /// <summary>Writes a partition table with sfdisk (a script in sfdisk's input format).</summary>
    public static void Sfdisk(string raw, string script)
        => Shell.Bash($"printf '{script}' | sfdisk --quiet --no-reread --no-tell-kernel '{raw}'");

    /// <summary>The partitions sfdisk reads back: (number, byte offset, byte length).</summary>
    public static List<(int Number, long Offset, long Length)> SfdiskPartitions(string raw)
    {
        using JsonDocument doc = JsonDocument.Parse(Shell.Ok("sfdisk", "-J", raw));
        var result = new List<(int, long, long)>();
        foreach (JsonElement p in doc.RootElement.GetProperty("partitiontable").GetProperty("partitions").EnumerateArray())
        {
            string node = p.GetProperty("node").GetString()!;
            int number = int.Parse(node[raw.Length..], System.Globalization.CultureInfo.InvariantCulture);
            string type = p.GetProperty("type").GetString()!;
            if (type is "5" or "f" or "85")
            {
                continue; // the extended container is not a partition with data of its own
            }
            result.Add((number, p.GetProperty("start").GetInt64() * 512, p.GetProperty("size").GetInt64() * 512));
        }
        return result;
    }

    /// <summary>md5sum of a byte range of a file (offset and length multiples of 512).</summary>
    public static string SliceMd5(string path, long offset, long length)
        => Shell.Bash($"dd if='{path}' bs=512 skip={offset / 512} count={length / 512} status=none | md5sum").Split(' ')[0];

    /// <summary>A file of the repository's sample-images directory.</summary>
    public static string SampleImage(string name) => Path.Combine(RepoRoot, "sample-images", name);

    /// <summary>The repository root: the first directory above the test binaries that holds VirtioScope.sln.</summary>
    public static string RepoRoot
    {
        get
        {
            for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                if (File.Exists(Path.Combine(d.FullName, "VirtioScope.sln")))
                {
                    return d.FullName;
                }
            }
            throw new FileNotFoundException("VirtioScope.sln not found above the test directory");
        }
    }
}
