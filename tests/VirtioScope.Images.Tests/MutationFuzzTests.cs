using System.Buffers.Binary;

namespace VirtioScope.Images.Tests;

/// <summary>
/// Structured mutation of real qemu-img images: header fields, table entries and random bytes in the metadata are
/// overwritten, then the image is opened, read, mapped and checked. Only ImageException/IOException may escape, and
/// nothing may hang. Any input that ever broke this is kept under Regressions/ and replayed by <see cref="Regressions_stay_fixed"/>.
/// </summary>
public sealed class MutationFuzzTests
{
    private static readonly string RegressionDir = Path.Combine(AppContext.BaseDirectory, "Regressions");

    [Fact]
    public void Mutated_images_fail_cleanly()
    {
        using var dir = new TempDir();
        var seeds = new List<byte[]>();
        string a = dir.File("a.qcow2");
        QemuImg.Img("create", "-f", "qcow2", "-o", "cluster_size=4096", a, "1M");
        QemuImg.Io(a, "write -P 1 0 20k", "write -z 64k 8k", "write -P 2 512k 4k");
        QemuImg.Img("snapshot", "-c", "s", a);
        QemuImg.Io(a, "write -P 3 4k 4k");
        seeds.Add(File.ReadAllBytes(a));
        string raw = dir.File("c.raw");
        File.WriteAllBytes(raw, Enumerable.Range(0, 256 * 1024).Select(i => (byte)(i % 7 == 0 ? i : 'q')).ToArray());
        string c = dir.File("c.qcow2");
        QemuImg.Img("convert", "-c", "-O", "qcow2", "-o", "cluster_size=4096,compression_type=zstd", raw, c);
        seeds.Add(File.ReadAllBytes(c));
        string e = dir.File("e.qcow2");
        QemuImg.Img("create", "-f", "qcow2", "-o", "cluster_size=16384,extended_l2=on,refcount_bits=4", e, "1M");
        QemuImg.Io(e, "write -P 5 1000 3000", "write -z 64k 32k");
        seeds.Add(File.ReadAllBytes(e));

        var rng = new Random(20261128);
        string target = dir.File("fuzz.qcow2");
        var deadline = DateTime.UtcNow.AddSeconds(int.TryParse(Environment.GetEnvironmentVariable("VS_FUZZ_SECONDS"), out int secs) ? secs : 25);
        int iterations = 0;
        var failures = new List<string>();
        while (DateTime.UtcNow < deadline && iterations < (secs > 0 ? int.MaxValue : 3000))
        {
            byte[] seed = seeds[iterations % seeds.Count];
            byte[] m = Mutate(seed, rng);
            File.WriteAllBytes(target, m);
            string? failure = Exercise(target);
            if (failure is not null)
            {
                string keep = Path.Combine(dir.Path, $"crash-{iterations}.qcow2");
                File.Copy(target, keep);
                File.Copy(target, Path.Combine(Path.GetTempPath(), $"vs-fuzz-crash-{iterations}.qcow2"), overwrite: true);
                failures.Add($"{failure} (input kept as {keep}; add it to tests/VirtioScope.Images.Tests/Regressions/)");
                if (failures.Count >= 3)
                {
                    break;
                }
            }
            iterations++;
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(iterations > 100, $"only {iterations} iterations ran");
    }

    public static TheoryData<string> RegressionFiles()
    {
        var data = new TheoryData<string>();
        foreach (string f in Directory.GetFiles(RegressionDir, "*.qcow2").Order())
        {
            data.Add(Path.GetFileName(f));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(RegressionFiles))]
    public void Regressions_stay_fixed(string file)
    {
        string? failure = Exercise(Path.Combine(RegressionDir, file));
        Assert.True(failure is null, failure);
    }

    private static byte[] Mutate(byte[] seed, Random rng)
    {
        byte[] m = (byte[])seed.Clone();
        int cs = 1 << (int)BinaryPrimitives.ReadUInt32BigEndian(m.AsSpan(20));
        int mutations = rng.Next(1, 4);
        for (int k = 0; k < mutations; k++)
        {
            switch (rng.Next(6))
            {
                case 0:
                    // A header field (4- or 8-byte aligned) gets an interesting value.
                    int field = rng.Next(0, 112 / 4) * 4;
                    BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(field), Interesting32(rng));
                    break;
                case 1:
                    int f8 = rng.Next(0, 104 / 8) * 8;
                    BinaryPrimitives.WriteUInt64BigEndian(m.AsSpan(f8), Interesting64(rng, m.Length));
                    break;
                default:
                    // A table entry somewhere in the metadata clusters (the first few clusters of the file).
                    int limit = Math.Min(m.Length, cs * 12) - 8;
                    int pos = rng.Next(0, limit / 8) * 8;
                    if (rng.Next(2) == 0)
                    {
                        BinaryPrimitives.WriteUInt64BigEndian(m.AsSpan(pos), Interesting64(rng, m.Length));
                    }
                    else
                    {
                        m[rng.Next(0, m.Length)] ^= (byte)(1 << rng.Next(8));
                    }
                    break;
            }
        }
        return m;
    }

    private static uint Interesting32(Random rng) => rng.Next(8) switch
    {
        0 => 0,
        1 => uint.MaxValue,
        2 => 0x80000000,
        3 => (uint)rng.Next(0, 64),
        4 => 0x7FFFFFFF,
        5 => 1u << rng.Next(32),
        _ => (uint)rng.Next(),
    };

    private static ulong Interesting64(Random rng, int fileLength) => rng.Next(8) switch
    {
        0 => 0,
        1 => ulong.MaxValue,
        2 => (ulong)rng.Next(0, fileLength),
        3 => (ulong)rng.Next(0, fileLength / 512) * 512,
        4 => 1UL << rng.Next(64),
        5 => 0x8000000000000000UL | ((ulong)rng.Next(0, fileLength / 4096) * 4096),
        6 => 0x4000000000000000UL | (uint)rng.Next(),
        _ => (ulong)rng.NextInt64(),
    };

    /// <summary>Opens, reads, maps and checks; returns a description of any failure other than a clean format error.</summary>
    private static string? Exercise(string path)
    {
        string work = path + ".work";
        File.Copy(path, work, overwrite: true);
        try
        {
            return ExerciseCopy(work);
        }
        finally
        {
            File.Delete(work);
        }
    }

    private static string? ExerciseCopy(string path)
    {
        var task = Task.Run(() =>
        {
            try
            {
                using IDiskImage image = DiskImage.Open(path, new ImageOpenOptions { ReadOnly = true, OpenBacking = false });
                long size = Math.Min(image.VirtualSize, 4 << 20);
                byte[] buf = new byte[64 * 1024];
                for (long off = 0; off < size; off += buf.Length)
                {
                    try
                    {
                        image.Read(off, buf.AsSpan(0, (int)Math.Min(buf.Length, size - off)));
                    }
                    catch (IOException)
                    {
                        // A corrupt cluster fails its read; the rest of the disk may still be readable.
                    }
                }
                try
                {
                    foreach (MapRecord r in ImageMap.Map(image).Take(10000))
                    {
                        _ = r;
                    }
                }
                catch (IOException)
                {
                    // Map stops at the first corrupt entry.
                }
                if (image is ICheckableImage checkable)
                {
                    checkable.Check(CheckRepair.None);
                }
            }
            catch (IOException)
            {
                // Refused cleanly; still try the writer below, which takes other paths (repair, allocation).
            }
            catch (Exception e)
            {
                return $"(read-only) {e}";
            }
            try
            {
                using IDiskImage image = DiskImage.Open(path, new ImageOpenOptions { OpenBacking = false });
                byte[] data = new byte[5000];
                Array.Fill(data, (byte)0xA5);
                long size = image.VirtualSize;
                foreach (long off in new[] { 0L, 3000, 70000, size / 2, size - data.Length })
                {
                    if (off >= 0 && off + data.Length <= size)
                    {
                        image.Write(off, data);
                    }
                }
                image.Flush();
                return null;
            }
            catch (IOException)
            {
                return null;
            }
            catch (Exception e)
            {
                return e.ToString();
            }
        });
        if (!task.Wait(TimeSpan.FromSeconds(10)))
        {
            return "hang: no result within 10 s";
        }
        return task.Result;
    }
}
