using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Serilog.Core;
using VirtioScope.Cli.Images;
using VirtioScope.Fuse;
using VirtioScope.Images;
using VirtioScope.Mount;

namespace VirtioScope.Cli.Mount;

/// <summary>
/// <c>mount [-f FMT] [--rw] [--snapshot] [--foreground] [--allow-other] [-o FUSE_OPTS] IMAGE MOUNTPOINT</c>: serves
/// <c>disk</c>, <c>p1</c>..<c>pN</c> and <c>info.json</c> over FUSE. Without --foreground the command starts itself
/// again as a detached daemon and returns once that daemon reports the mount ready (or relays its error). Exit codes:
/// 0 mounted, 1 the image, the mount point or FUSE failed (one line on stderr, nothing left mounted), 2 bad usage.
/// </summary>
internal static class MountCommand
{
    /// <summary>Set in the daemon's environment: report readiness on stdout, then detach from it.</summary>
    internal const string DaemonVariable = "VIRTIOSCOPE_MOUNT_DAEMON";
    private const string ReadyLine = "virtioscope-mount-ready";
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    public static Command Create()
    {
        var format = new Option<string?>("-f") { Description = "Image format (detected when omitted)" };
        var rw = new Option<bool>("--rw") { Description = "Mount read-write: writes go to the image" };
        var snapshot = new Option<bool>("--snapshot") { Description = "Send writes to a temporary qcow2 overlay discarded at unmount" };
        var foreground = new Option<bool>("--foreground") { Description = "Stay attached; Ctrl+C or SIGTERM unmounts" };
        var allowOther = new Option<bool>("--allow-other") { Description = "Let other users see the mount" };
        var fuseOptions = new Option<string?>("-o") { Description = "Further FUSE mount options, comma-separated" };
        var log = new Option<string?>("--log") { Description = "Write a compact JSON (CLEF) log to this file" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log more" };
        var image = new Argument<string>("IMAGE") { Description = "The image file" };
        var mountPoint = new Argument<string>("MOUNTPOINT") { Description = "An existing directory that is not a mount point" };
        var cmd = new Command("mount", "Mount an image over FUSE: disk, p1..pN and info.json");
        foreach (Option o in new Option[] { format, rw, snapshot, foreground, allowOther, fuseOptions, log, verbose })
        {
            cmd.Options.Add(o);
        }
        cmd.Arguments.Add(image);
        cmd.Arguments.Add(mountPoint);
        cmd.SetAction(pr =>
        {
            var request = new MountRequest(
                Path.GetFullPath(pr.GetValue(image)!),
                Path.GetFullPath(pr.GetValue(mountPoint)!),
                pr.GetValue(format),
                pr.GetValue(rw) ? MountMode.ReadWrite : pr.GetValue(snapshot) ? MountMode.Snapshot : MountMode.ReadOnly,
                pr.GetValue(allowOther),
                pr.GetValue(fuseOptions),
                pr.GetValue(log),
                pr.GetValue(verbose));
            if (pr.GetValue(rw) && pr.GetValue(snapshot))
            {
                Console.Error.WriteLine("virtioscope: --rw and --snapshot cannot be combined");
                return ExitCodes.Usage;
            }
            return CliSupport.Run(() => pr.GetValue(foreground) ? Serve(request) : StartDaemon(request));
        });
        return cmd;
    }

    private static void CheckMountPoint(string mountPoint)
    {
        if (!Directory.Exists(mountPoint))
        {
            throw new IOException(File.Exists(mountPoint) ? $"mount point {mountPoint} is not a directory" : $"mount point {mountPoint} does not exist");
        }
        if (MountTable.TypeAt(mountPoint) is { } type)
        {
            throw new IOException($"mount point {mountPoint} is busy: a {type} file system is mounted there");
        }
    }

    private static int StartDaemon(MountRequest request)
    {
        CheckMountPoint(request.MountPoint);
        var psi = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        string host = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find the virtioscope executable");
        psi.FileName = host;
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            psi.ArgumentList.Add(Environment.GetCommandLineArgs()[0]); // under `dotnet`, the entry dll
        }
        foreach (string a in request.ForegroundArguments())
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment[DaemonVariable] = "1";
        using Process child = Process.Start(psi) ?? throw new InvalidOperationException("cannot start the mount daemon");
        Task<string> errors = child.StandardError.ReadToEndAsync();
        Task<string?> line = child.StandardOutput.ReadLineAsync();
        if (!line.Wait(ReadyTimeout))
        {
            child.Kill();
            child.WaitForExit(10_000);
            throw new IOException($"the mount daemon did not become ready within {ReadyTimeout.TotalSeconds} s");
        }
        if (line.Result == ReadyLine)
        {
            return ExitCodes.Success;
        }
        if (!child.WaitForExit(30_000))
        {
            child.Kill();
        }
        errors.Wait(10_000);
        Console.Error.Write(errors.IsCompletedSuccessfully ? errors.Result : "virtioscope: the mount daemon failed\n");
        return child.HasExited && child.ExitCode != 0 ? child.ExitCode : ExitCodes.Failures;
    }

    private static int Serve(MountRequest request)
    {
        bool daemon = Environment.GetEnvironmentVariable(DaemonVariable) == "1";
        if (daemon)
        {
            Daemon.DetachSession();
        }
        CheckMountPoint(request.MountPoint);
        using Logger logger = Logging.Create(request.Verbose ? 2 : 0, request.LogFile);
        byte[] info = ImageInfoJson(request);
        using ImageMountSession session = ImageMountSession.Open(request.ImagePath, ImageFormatNames.Parse(request.Format), request.Mode, info, logger);
        var options = new FuseMountOptions
        {
            FsName = request.ImagePath,
            ReadOnly = request.Mode == MountMode.ReadOnly,
            AllowOther = request.AllowOther,
            ExtraOptions = request.FuseOptions,
        };
        FuseMount mount;
        try
        {
            mount = FuseMount.Create(session.FileSystem, request.MountPoint, options, logger);
        }
        catch (FuseException e)
        {
            throw new IOException(e.Message, e);
        }
        using (mount)
        {
            MountRegistry.Register(request.MountPoint);
            try
            {
                using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
                using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
                using PosixSignalRegistration hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Stop);
                logger.Information("Serving {Image} on {MountPoint} ({Mode}; partitions: {Count})", request.ImagePath, request.MountPoint, request.Mode, session.Partitions.Count);
                if (daemon)
                {
                    Console.Out.WriteLine(ReadyLine);
                    Console.Out.Flush();
                    Daemon.RedirectStandardStreamsToNull();
                }
                int result = mount.Run();
                if (result != 0)
                {
                    logger.Warning("The FUSE loop ended with {Result}", result);
                }
            }
            finally
            {
                MountRegistry.Unregister(request.MountPoint);
            }
        }
        return ExitCodes.Success;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            mount.RequestStop();
        }
    }

    /// <summary>What <c>info --output json</c> prints for the image, from this same executable.</summary>
    private static byte[] ImageInfoJson(MountRequest request)
    {
        var psi = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        string host = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find the virtioscope executable");
        psi.FileName = host;
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            psi.ArgumentList.Add(Environment.GetCommandLineArgs()[0]); // under `dotnet`, the entry dll
        }
        psi.ArgumentList.Add("info");
        psi.ArgumentList.Add("--output");
        psi.ArgumentList.Add("json");
        if (request.Format is not null)
        {
            psi.ArgumentList.Add("-f");
            psi.ArgumentList.Add(request.Format);
        }
        psi.ArgumentList.Add(request.ImagePath);
        using Process p = Process.Start(psi) ?? throw new InvalidOperationException("cannot run virtioscope info");
        Task<string> err = p.StandardError.ReadToEndAsync();
        using var output = new MemoryStream();
        p.StandardOutput.BaseStream.CopyTo(output);
        if (!p.WaitForExit(60_000))
        {
            p.Kill();
            throw new IOException("virtioscope info did not finish within 60 s");
        }
        if (p.ExitCode != 0)
        {
            throw new IOException(err.Result.Trim().Replace("virtioscope: ", "", StringComparison.Ordinal));
        }
        return output.ToArray();
    }
}
