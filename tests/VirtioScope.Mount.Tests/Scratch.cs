namespace VirtioScope.Mount.Tests;

/// <summary>A temporary directory with a mount point in it; disposing unmounts anything left (fusermount3, then umount -l).</summary>
internal sealed class Scratch : IDisposable
{
    public Scratch()
    {
        Dir = Directory.CreateTempSubdirectory("vs-mount-").FullName;
        MountPoint = File("mnt");
        Directory.CreateDirectory(MountPoint);
    }

    public string Dir { get; }

    public string MountPoint { get; }

    public string File(string name) => Path.Combine(Dir, name);

    public void Mount(params string[] options)
    {
        (int code, string o, string e) = Shell.Vs(["mount", .. options, MountPoint]);
        Assert.True(code == 0, $"mount exited {code}: {o}{e}");
        Assert.True(Shell.IsMounted(MountPoint), "mount returned before the mount was ready");
    }

    public void Unmount()
    {
        (int code, string o, string e) = Shell.Vs("unmount", MountPoint);
        Assert.True(code == 0, $"unmount exited {code}: {o}{e}");
        Assert.False(Shell.IsMounted(MountPoint));
    }

    public string In(string name) => Path.Combine(MountPoint, name);

    public void Dispose()
    {
        foreach (string dir in Directory.EnumerateDirectories(Dir))
        {
            for (int i = 0; i < 3 && Shell.IsMounted(dir); i++)
            {
                if (Shell.Run("fusermount3", "-u", dir).Code != 0)
                {
                    Shell.Run("umount", "-l", dir);
                }
            }
        }
        Directory.Delete(Dir, recursive: true);
    }
}
