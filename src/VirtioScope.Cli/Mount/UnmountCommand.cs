using System.CommandLine;
using System.Diagnostics;
using VirtioScope.Cli.Images;
using VirtioScope.Mount;

namespace VirtioScope.Cli.Mount;

/// <summary>
/// <c>unmount MOUNTPOINT</c>: unmounts a <c>virtioscope mount</c> (with fusermount3, or umount as root) and waits
/// for its daemon to flush and close the image. A mount whose daemon died (kill -9) is cleaned up the same way.
/// Exit codes: 0 unmounted, 1 not a virtioscope mount, busy, or the daemon did not finish, 2 bad usage.
/// </summary>
internal static class UnmountCommand
{
    private static readonly TimeSpan DaemonTimeout = TimeSpan.FromSeconds(120);

    public static Command Create()
    {
        var mountPoint = new Argument<string>("MOUNTPOINT") { Description = "Where the image is mounted" };
        var cmd = new Command("unmount", "Unmount an image mounted by virtioscope mount and wait for it to be closed");
        cmd.Arguments.Add(mountPoint);
        cmd.SetAction(pr => CliSupport.Run(() => Execute(Path.GetFullPath(pr.GetValue(mountPoint)!))));
        return cmd;
    }

    private static int Execute(string mountPoint)
    {
        string? type = MountTable.TypeAt(mountPoint);
        if (type is null)
        {
            throw new IOException($"{mountPoint} is not mounted");
        }
        if (type != "fuse.virtioscope")
        {
            throw new IOException($"{mountPoint} is not a virtioscope mount (it is {type})");
        }
        int? pid = MountRegistry.DaemonPid(mountPoint);
        bool alive = pid is not null && Directory.Exists($"/proc/{pid}");
        (int code, string error) = Run("fusermount3", "-u", mountPoint);
        if (code != 0 && Environment.UserName == "root")
        {
            (code, error) = Run("umount", mountPoint);
        }
        if (code != 0)
        {
            throw new IOException($"cannot unmount {mountPoint}: {error.Trim()}");
        }
        if (alive)
        {
            var deadline = Stopwatch.StartNew();
            while (Directory.Exists($"/proc/{pid}"))
            {
                if (deadline.Elapsed > DaemonTimeout)
                {
                    throw new IOException($"the mount daemon (pid {pid}) did not finish closing the image within {DaemonTimeout.TotalSeconds} s");
                }
                Thread.Sleep(20);
            }
        }
        else
        {
            MountRegistry.Unregister(mountPoint);
        }
        return ExitCodes.Success;
    }

    private static (int Code, string Error) Run(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using Process p = Process.Start(psi) ?? throw new IOException($"cannot run {tool}");
        Task<string> err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(30_000))
        {
            p.Kill();
            return (-1, $"{tool} did not finish within 30 s");
        }
        return (p.ExitCode, err.Result);
    }
}
