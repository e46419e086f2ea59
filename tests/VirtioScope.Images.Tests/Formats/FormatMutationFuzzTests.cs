using System.Buffers.Binary;
using VirtioScope.Images.Vhdx;
using VirtioScope.Images.Vpc;

namespace VirtioScope.Images.Tests.Formats;

/// <summary>
/// Structured mutation of VHD, VHDX and VMDK images made by qemu-img: metadata bytes and fields get interesting
/// values, and (half the time) checksums are recomputed so the mutation reaches the parsers behind them. Opening,
/// reading, mapping and writing may only fail with IOException/ImageException, and never hang. Crashing inputs are
/// kept under Regressions/ (extension .vhd, .vhdx or .vmdk) and replayed by <see cref="Regressions_stay_fixed"/>.
/// </summary>
public sealed class FormatMutationFuzzTests
{
    private static readonly string RegressionDir = Path.Combine(AppContext.BaseDirectory, "Regressions");

    [Fact]
    public void Mutated_images_fail_cleanly()
    {
        using var dir = new TempDir();
        var seeds = new List<(string Ext, byte[] Bytes)>();
        string vhd = dir.File("a.vhd");
        QemuImg.Img("create", "-f", "vpc", "-o", "subformat=dynamic", vhd, "6M");
        FormatFixtures.Io("vpc", vhd, "write -P 1 0 20k", "write -P 2 3M 4k");
        seeds.Add((".vhd", File.ReadAllBytes(vhd)));
        string fixedVhd = dir.File("f.vhd");
        QemuImg.Img("create", "-f", "vpc", "-o", "subformat=fixed", fixedVhd, "1M");
        seeds.Add((".vhd", File.ReadAllBytes(fixedVhd)));
        string vhdx = dir.File("a.vhdx");
        QemuImg.Img("create", "-f", "vhdx", "-o", "block_size=1M,log_size=1M", vhdx, "6M");
        FormatFixtures.Io("vhdx", vhdx, "write -P 1 0 20k", "write -P 2 3M 4k");
        seeds.Add((".vhdx", File.ReadAllBytes(vhdx)));
        // Differencing children: their parent locators and sector bitmaps are parsed too (the parents stay intact).
        string childVhdx = dir.File("c.vhdx");
        using (IDiskImage child = DiskImage.Create(childVhdx, new ImageCreateOptions { Format = ImageFormat.Vhdx, BackingFile = "a.vhdx" }))
        {
            child.Write(1000, new byte[5000]);
            child.Write(3 << 20, new byte[512]);
        }
        seeds.Add((".vhdx", File.ReadAllBytes(childVhdx)));
        string childVhd = dir.File("c.vhd");
        using (IDiskImage child = DiskImage.Create(childVhd, new ImageCreateOptions { Format = ImageFormat.Vpc, BackingFile = "a.vhd" }))
        {
            child.Write(1000, new byte[5000]);
        }
        seeds.Add((".vhd", File.ReadAllBytes(childVhd)));
        string raw = dir.File("s.raw");
        File.WriteAllBytes(raw, Enumerable.Range(0, 512 * 1024).Select(i => (byte)(i % 5 == 0 ? i : 'v')).ToArray());
        string sparse = dir.File("s.vmdk");
        QemuImg.Img("convert", "-f", "raw", "-O", "vmdk", raw, sparse);
        seeds.Add((".vmdk", File.ReadAllBytes(sparse)));
        string stream = dir.File("o.vmdk");
        QemuImg.Img("convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, stream);
        seeds.Add((".vmdk", File.ReadAllBytes(stream)));

        var rng = new Random(20261128);
        var deadline = DateTime.UtcNow.AddSeconds(int.TryParse(Environment.GetEnvironmentVariable("VS_FUZZ_SECONDS"), out int secs) ? secs : 25);
        int iterations = 0;
        var failures = new List<string>();
        while (DateTime.UtcNow < deadline && iterations < (secs > 0 ? int.MaxValue : 3000))
        {
            (string ext, byte[] seed) = seeds[iterations % seeds.Count];
            byte[] m = Mutate(ext, seed, rng);
            string target = dir.File("fuzz" + ext);
            File.WriteAllBytes(target, m);
            string? failure = Exercise(target);
            if (failure is not null)
            {
                string keep = Path.Combine(Path.GetTempPath(), $"vs-fuzz-crash-{iterations}{ext}");
                File.Copy(target, keep, overwrite: true);
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
        foreach (string f in Directory.GetFiles(RegressionDir).Where(f => f.EndsWith(".vhd", StringComparison.Ordinal)
            || f.EndsWith(".vhdx", StringComparison.Ordinal) || f.EndsWith(".vmdk", StringComparison.Ordinal)).Order())
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

    private static byte[] Mutate(string ext, byte[] seed, Random rng)
    {
        byte[] m = (byte[])seed.Clone();
        // Where the metadata lives: VHD footer/header/BAT and the footer copy; VHDX headers, region tables, log, BAT
        // and metadata (first 4 MiB); VMDK header, descriptor, grain directory and tables (first 64 KiB).
        (int Start, int Length)[] areas = ext switch
        {
            ".vhd" => [(0, Math.Min(m.Length, 4096)), (m.Length - 512, 512)],
            ".vhdx" => [(0, 4096), (64 << 10, 4096), (128 << 10, 4096), (192 << 10, 4096), (1 << 20, Math.Min(m.Length - (1 << 20), 3 << 20))],
            _ => [(0, Math.Min(m.Length, 64 << 10)), (Math.Max(0, m.Length - 1536), Math.Min(m.Length, 1536))],
        };
        int mutations = rng.Next(1, 4);
        for (int k = 0; k < mutations; k++)
        {
            (int start, int length) = areas[rng.Next(areas.Length)];
            int pos = start + rng.Next(0, Math.Max(1, length - 8)) / 4 * 4;
            switch (rng.Next(4))
            {
                case 0:
                    BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(pos), Interesting32(rng));
                    break;
                case 1:
                    BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(pos), Interesting32(rng));
                    break;
                case 2:
                    BinaryPrimitives.WriteUInt64LittleEndian(m.AsSpan(pos), rng.Next(2) == 0 ? ulong.MaxValue >> rng.Next(64) : (ulong)rng.NextInt64());
                    break;
                default:
                    m[pos + rng.Next(4)] ^= (byte)(1 << rng.Next(8));
                    break;
            }
        }
        if (rng.Next(2) == 0)
        {
            Reseal(ext, m);
        }
        return m;
    }

    /// <summary>Recomputes the checksums so a mutation behind them reaches the parser.</summary>
    private static void Reseal(string ext, byte[] m)
    {
        if (ext == ".vhd")
        {
            VpcFooter.Seal(m.AsSpan(0, 512));
            VpcFooter.Seal(m.AsSpan(m.Length - 512, 512));
            if (m.Length >= 1536)
            {
                VpcFooter.Seal(m.AsSpan(512, 1024), VpcDynamicHeader.ChecksumOffset);
            }
        }
        else if (ext == ".vhdx")
        {
            VhdxLayout.Seal(m.AsSpan(64 << 10, 4096), VhdxLayout.HeaderChecksumOffset);
            VhdxLayout.Seal(m.AsSpan(128 << 10, 4096), VhdxLayout.HeaderChecksumOffset);
            VhdxLayout.Seal(m.AsSpan(192 << 10, 64 << 10), VhdxLayout.RegionChecksumOffset);
            VhdxLayout.Seal(m.AsSpan(256 << 10, 64 << 10), VhdxLayout.RegionChecksumOffset);
        }
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

    private static string? Exercise(string path)
    {
        string work = path + ".work";
        File.Copy(path, work, overwrite: true);
        try
        {
            ImageFormat format = Path.GetExtension(path) switch
            {
                ".vhd" => ImageFormat.Vpc,
                ".vhdx" => ImageFormat.Vhdx,
                _ => ImageFormat.Vmdk,
            };
            return ExerciseCopy(work, format);
        }
        finally
        {
            File.Delete(work);
        }
    }

    private static string? ExerciseCopy(string path, ImageFormat format)
    {
        var task = Task.Run(() =>
        {
            try
            {
                using IDiskImage image = DiskImage.Open(path, new ImageOpenOptions { ReadOnly = true, OpenBacking = false, Format = format });
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
                        // A corrupt grain fails its read; the rest may still be readable.
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
            }
            catch (IOException)
            {
                // Refused cleanly; still try the writer below (log replay, allocation).
            }
            catch (Exception e)
            {
                return $"(read-only) {e}";
            }
            try
            {
                using IDiskImage image = DiskImage.Open(path, new ImageOpenOptions { OpenBacking = false, Format = format });
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
