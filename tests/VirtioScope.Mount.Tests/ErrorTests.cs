namespace VirtioScope.Mount.Tests;

/// <summary>Bad images and bad mount points: one line on stderr, exit code 1 (2 for usage), and nothing mounted.</summary>
public sealed class ErrorTests : IDisposable
{
    private readonly Scratch _s = new();

    public void Dispose() => _s.Dispose();

    private void AssertFails(int exitCode, string messagePart, params string[] args)
    {
        (int code, string o, string e) = Shell.Vs(args);
        Assert.True(code == exitCode, $"exit {code}, expected {exitCode}: {o}{e}");
        Assert.Contains(messagePart, e, StringComparison.Ordinal);
        Assert.Single(e.Trim().Split('\n'));
        Assert.False(Shell.IsMounted(_s.MountPoint));
    }

    [Fact]
    public void A_missing_image_fails_cleanly()
        => AssertFails(1, "no such file", "mount", _s.File("missing.qcow2"), _s.MountPoint);

    [Fact]
    public void A_corrupt_qcow2_image_fails_cleanly()
    {
        string bad = _s.File("bad.qcow2");
        Shell.Ok("qemu-img", "create", "-f", "qcow2", bad, "1M");
        using (FileStream f = File.OpenWrite(bad))
        {
            f.Position = 4;
            f.Write([0, 0, 0, 99]); // version 99
        }
        AssertFails(1, "virtioscope:", "mount", bad, _s.MountPoint);
    }

    [Fact]
    public void A_missing_mount_point_fails_cleanly()
    {
        string image = _s.File("image.qcow2");
        Shell.Ok("qemu-img", "create", "-f", "qcow2", image, "1M");
        AssertFails(1, "does not exist", "mount", image, _s.File("nowhere"));
    }

    [Fact]
    public void A_busy_mount_point_fails_cleanly_and_leaves_the_first_mount_alone()
    {
        string image = _s.File("image.qcow2");
        Shell.Ok("qemu-img", "create", "-f", "qcow2", image, "1M");
        _s.Mount(image);
        (int code, _, string e) = Shell.Vs("mount", image, _s.MountPoint);
        Assert.Equal(1, code);
        Assert.Contains("busy", e, StringComparison.Ordinal);
        Assert.Equal(1 << 20, new FileInfo(_s.In("disk")).Length);
        _s.Unmount();
    }

    [Fact]
    public void Rw_and_snapshot_together_are_a_usage_error()
    {
        string image = _s.File("image.qcow2");
        Shell.Ok("qemu-img", "create", "-f", "qcow2", image, "1M");
        AssertFails(2, "cannot be combined", "mount", "--rw", "--snapshot", image, _s.MountPoint);
    }

    [Fact]
    public void Unmounting_a_directory_that_is_not_mounted_fails()
        => AssertFails(1, "is not mounted", "unmount", _s.MountPoint);
}
