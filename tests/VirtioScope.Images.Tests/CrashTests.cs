using System.Diagnostics;

namespace VirtioScope.Images.Tests;

/// <summary>A writer killed with SIGKILL at random points leaves an image in which qemu-img check finds no corruption (leaks allowed).</summary>
public sealed class CrashTests
{
    [Theory]
    [InlineData("cluster_size=65536")]
    [InlineData("cluster_size=4096,refcount_bits=2")]
    [InlineData("cluster_size=512")]
    [InlineData("cluster_size=32768,extended_l2=on,compression_type=zstd")]
    [InlineData("cluster_size=65536,lazy_refcounts=on")]
    public void Kill_minus_9_leaves_no_corruption(string options)
    {
        using var dir = new TempDir();
        string img = dir.File("crash.qcow2");
        QemuImg.Img("create", "-f", "qcow2", "-o", options, img, "8M");
        QemuImg.Img("snapshot", "-c", "base", img);
        var rng = new Random(options.Length);
        for (int round = 0; round < 6; round++)
        {
            RunAndKill(img, round, rng.Next(20, 400));
            if (options.Contains("lazy_refcounts=on", StringComparison.Ordinal))
            {
                // Lazy refcounts promise consistency after the repair every read-write open does (QEMU's and ours, in
                // turn), not before it: a killed writer leaves the image dirty with refcounts behind.
                if (round % 2 == 0)
                {
                    QemuImg.Io(img, "read 0 512");
                }
                else
                {
                    DiskImage.Open(img).Dispose();
                }
            }
            (int code, string output) = QemuImg.Check(img);
            // 0 clean, 3 leaks only: both acceptable after a crash; 2 (corruption) or 1 (check failed) are not.
            Assert.True(code is 0 or 3, $"round {round}: qemu-img check exit {code}\n{output}");
        }
    }

    /// <summary>
    /// VHDX: after each kill the image either opens read-only or is refused with the replay hint (a log entry was
    /// written, its metadata not); a read-write open replays the log; then qemu-img check is clean and reads what we
    /// read. A differencing child (which qemu-img cannot open) is checked by our check and by libvhdi instead.
    /// </summary>
    [Theory]
    [InlineData("block_size=1M", false)]
    [InlineData("block_size=8M,log_size=1M", false)]
    [InlineData("block_size=1M", true)]
    public void Kill_minus_9_of_a_vhdx_writer_leaves_an_image_that_replays_clean(string options, bool differencing)
    {
        using var dir = new TempDir();
        string basePath = dir.File("base.vhdx");
        QemuImg.Img("create", "-f", "vhdx", "-o", options, basePath, "16M");
        Formats.FormatFixtures.Io("vhdx", basePath, "write -P 0x5c 0 16M");
        string img = basePath;
        if (differencing)
        {
            img = dir.File("child.vhdx");
            DiskImage.Create(img, new ImageCreateOptions { Format = ImageFormat.Vhdx, BackingFile = "base.vhdx" }).Dispose();
        }
        var rng = new Random(options.Length + (differencing ? 1 : 0));
        for (int round = 0; round < 6; round++)
        {
            RunAndKill(img, round, rng.Next(20, 400));
            try
            {
                DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true }).Dispose();
            }
            catch (ImageException e) when (e.Message.Contains("check -r all", StringComparison.Ordinal))
            {
                // Killed between a log write and the metadata write: the replay below is what makes it readable.
            }
            DiskImage.Open(img).Dispose();
            byte[] ours;
            using (IDiskImage image = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true }))
            {
                ours = TestData.ReadAll(image);
                if (differencing)
                {
                    using IDiskImage alone = DiskImage.Open(img, new ImageOpenOptions { ReadOnly = true, OpenBacking = false, ForCheck = true });
                    CheckReport r = ((ICheckableImage)alone).Check(CheckRepair.None);
                    Assert.True(r.Corruptions + r.CheckErrors == 0, $"round {round}: {string.Join('\n', r.Messages)}");
                }
            }
            if (differencing)
            {
                Assert.Equal(Formats.FormatFixtures.Md5(ours), Formats.FormatFixtures.LibvhdiMd5(img, basePath));
                continue;
            }
            (int code, string output) = QemuImg.Check(img);
            Assert.True(code == 0, $"round {round}: qemu-img check exit {code}\n{output}");
            TestData.AssertSame(ours, Formats.FormatFixtures.ToRaw("vhdx", img, dir.Path), $"round {round}: qemu-img's view");
        }
    }

    private static void RunAndKill(string img, int seed, int millis)
    {
        string writer = Path.Combine(AppContext.BaseDirectory, "VirtioScope.Images.CrashWriter.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add(writer);
        psi.ArgumentList.Add(img);
        psi.ArgumentList.Add(seed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using Process p = Process.Start(psi)!;
        Assert.Equal("ready", p.StandardOutput.ReadLine());
        Thread.Sleep(millis);
        p.Kill(entireProcessTree: true);
        p.WaitForExit();
    }
}
