using System.Diagnostics;

namespace VirtioScope.Mount.Tests;

/// <summary>--rw, --snapshot, --foreground and a killed daemon, checked with qemu-img check and compare.</summary>
public sealed class WritableMountTests : IDisposable
{
    private readonly Scratch _s = new();

    public void Dispose() => _s.Dispose();

    /// <summary>dd of a file into a target at a byte offset, without truncating, with fsync.</summary>
    private static void Dd(string input, string target, long offsetBytes)
        => Shell.Bash($"dd if='{input}' of='{target}' bs=64k seek={offsetBytes}B conv=notrunc,fsync status=none oflag=seek_bytes");

    [Theory]
    [InlineData("qcow2", "cluster_size=65536")]
    [InlineData("raw", "preallocation=off")]
    [InlineData("vhdx", "block_size=1M")]
    [InlineData("vpc", "force_size=on")]
    [InlineData("vmdk", "subformat=monolithicSparse")]
    public void Rw_writes_with_dd_and_fio_reach_the_image(string format, string options)
    {
        string expected = Images.PatternRaw(_s.File("expected.raw"), 8 << 20, seed: 3);
        Images.Sfdisk(expected, "label: dos\\nstart=2048, type=83\\n");
        string image = _s.File("image." + format);
        // force_size keeps a VHD at exactly 8 MiB instead of rounding it up to a CHS geometry.
        Shell.Ok("qemu-img", "convert", "-f", "raw", "-O", format, "-o", options, expected, image);
        _s.Mount("--rw", image);

        // fio writes and verifies 2 MiB through the mount (the data is its own; dd overwrites it below).
        Shell.Ok("fio", "--name=verify", $"--filename={_s.In("disk")}", "--rw=randwrite", "--bs=4k", "--offset=4M", "--size=2M",
            "--ioengine=psync", "--numjobs=1", "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--randrepeat=1");

        string chunk = _s.File("chunk.bin");
        File.WriteAllBytes(chunk, RandomBytes(2 << 20, seed: 11));
        string small = _s.File("small.bin");
        File.WriteAllBytes(small, RandomBytes(300 * 1024, seed: 12));
        Dd(chunk, _s.In("disk"), 4 << 20);
        Dd(chunk, expected, 4 << 20);
        Dd(small, _s.In("p1"), 123 * 4096);
        Dd(small, expected, (1 << 20) + (123 * 4096));
        Assert.Equal(Shell.Md5(expected), Shell.Md5(_s.In("disk")));
        _s.Unmount();

        if (format is "qcow2" or "vhdx" or "vmdk")
        {
            Shell.Ok("qemu-img", "check", image);
            Assert.DoesNotContain("dirty", Shell.Ok("qemu-img", "info", image), StringComparison.Ordinal);
        }
        Shell.Ok("qemu-img", "compare", "-f", format, "-F", "raw", image, expected);
    }

    [Fact]
    public void Snapshot_writes_are_seen_in_the_mount_and_the_image_stays_byte_identical()
    {
        string src = Images.PatternRaw(_s.File("src.raw"), 4 << 20, seed: 5);
        string image = _s.File("image.qcow2");
        Shell.Ok("qemu-img", "convert", "-f", "raw", "-O", "qcow2", src, image);
        string before = Shell.Md5(image);
        string[] overlaysBefore = Overlays();
        _s.Mount("--snapshot", image);
        Assert.NotEmpty(Overlays().Except(overlaysBefore));
        string chunk = _s.File("chunk.bin");
        File.WriteAllBytes(chunk, RandomBytes(1 << 20, seed: 9));
        Dd(chunk, _s.In("disk"), 1 << 20);
        Assert.Equal(Shell.Md5(chunk), Images.SliceMd5(_s.In("disk"), 1 << 20, 1 << 20));
        _s.Unmount();
        Assert.Equal(before, Shell.Md5(image));
        Assert.Equal(overlaysBefore, Overlays());
    }

    private static string[] Overlays() => Directory.GetFiles(Path.GetTempPath(), "virtioscope-snapshot-*.qcow2").Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void Kill_9_during_writes_leaves_no_corruption_and_unmount_cleans_up()
    {
        string image = _s.File("image.qcow2");
        Shell.Ok("qemu-img", "create", "-f", "qcow2", "-o", "cluster_size=4k", image, "64M");
        _s.Mount("--rw", image);
        int pid = MountRegistry.DaemonPid(_s.MountPoint) ?? throw new InvalidOperationException("no daemon pid recorded");
        using Process writer = Process.Start(new ProcessStartInfo("dd")
        {
            ArgumentList = { "if=/dev/urandom", $"of={_s.In("disk")}", "bs=64k", "count=1000", "conv=notrunc", "status=none" },
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        Thread.Sleep(400);
        Assert.False(writer.HasExited, "dd finished before the daemon was killed; the test proves nothing");
        Process.GetProcessById(pid).Kill();
        Assert.True(writer.WaitForExit(30_000), "dd did not end after the daemon died");
        Assert.NotEqual(0, writer.ExitCode);
        Assert.True(Shell.IsMounted(_s.MountPoint));

        _s.Unmount();
        (int code, string o, string e) = Shell.Run("qemu-img", "check", image);
        // 0: clean; 3: only leaked clusters, which an interrupted allocation may leave and which are not corruption.
        Assert.True(code is 0 or 3, $"qemu-img check exited {code}: {o}{e}");
        Assert.DoesNotContain("ERROR", o, StringComparison.Ordinal);
        // The image can be mounted and read again.
        _s.Mount(image);
        Assert.Equal(64 << 20, new FileInfo(_s.In("disk")).Length);
        _s.Unmount();
    }

    [Fact]
    public void Foreground_mount_unmounts_on_sigterm()
    {
        string image = _s.File("image.qcow2");
        Shell.Ok("qemu-img", "create", "-f", "qcow2", image, "2M");
        using Process fg = Process.Start(new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "virtioscope.dll"), "mount", "--foreground", "--rw", image, _s.MountPoint },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        var clock = Stopwatch.StartNew();
        while (!Shell.IsMounted(_s.MountPoint))
        {
            if (fg.HasExited)
            {
                Assert.Fail("the foreground mount exited: " + fg.StandardError.ReadToEnd());
            }
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the foreground mount did not appear");
            Thread.Sleep(50);
        }
        File.WriteAllBytes(_s.File("one.bin"), RandomBytes(4096, seed: 1));
        Dd(_s.File("one.bin"), _s.In("disk"), 8192);
        Shell.Ok("kill", "-TERM", fg.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(fg.WaitForExit(60_000), "the foreground mount did not end on SIGTERM");
        Assert.Equal(0, fg.ExitCode);
        Assert.False(Shell.IsMounted(_s.MountPoint));
        Shell.Ok("qemu-img", "check", image);
        Shell.Ok("qemu-img", "convert", "-O", "raw", image, _s.File("back.raw"));
        Assert.Equal(Shell.Md5(_s.File("one.bin")), Images.SliceMd5(_s.File("back.raw"), 8192, 4096));
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        byte[] b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }
}
