using System.Diagnostics;

namespace VirtioScope.Fuse.Tests;

internal static class Cleanup
{
    public static int Run(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using Process p = Process.Start(psi)!;
        p.StandardOutput.ReadToEnd();
        p.StandardError.ReadToEnd();
        if (!p.WaitForExit(30_000))
        {
            p.Kill();
            return -1;
        }
        return p.ExitCode;
    }

    public static void ForceUnmount(string dir)
    {
        if (Run("fusermount3", "-u", dir) != 0)
        {
            Run("umount", "-l", dir);
        }
    }
}
