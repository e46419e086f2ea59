using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace VirtioScope.Mount;

/// <summary>
/// Where a mount daemon records its process id, keyed by the mount point, so <c>unmount</c> can wait for it to
/// finish flushing: <c>$XDG_RUNTIME_DIR/virtioscope</c>, or <c>/tmp/virtioscope-UID</c>.
/// </summary>
public static class MountRegistry
{
    /// <summary>The pid file of the mount at <paramref name="mountPoint"/>.</summary>
    public static string PidFile(string mountPoint)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(mountPoint));
        string key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(full)))[..16];
        return Path.Combine(Directory(), "mount-" + key + ".pid");
    }

    private static string Directory()
    {
        string? runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        string dir = !string.IsNullOrEmpty(runtime) && System.IO.Directory.Exists(runtime)
            ? Path.Combine(runtime, "virtioscope")
            : Path.Combine(Path.GetTempPath(), "virtioscope-" + Fuse.Daemon.UserId.ToString(CultureInfo.InvariantCulture));
        System.IO.Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Records this process as the daemon of <paramref name="mountPoint"/>.</summary>
    public static void Register(string mountPoint)
        => File.WriteAllText(PidFile(mountPoint), Environment.ProcessId.ToString(CultureInfo.InvariantCulture));

    /// <summary>Forgets the daemon of <paramref name="mountPoint"/>.</summary>
    public static void Unregister(string mountPoint) => File.Delete(PidFile(mountPoint));

    /// <summary>The recorded daemon pid of <paramref name="mountPoint"/>, or null.</summary>
    public static int? DaemonPid(string mountPoint)
    {
        string file = PidFile(mountPoint);
        return File.Exists(file) && int.TryParse(File.ReadAllText(file).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) ? pid : null;
    }
}
