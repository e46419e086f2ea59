using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace VirtioScope.Cli.Tests;

/// <summary>Builds the busybox initramfs of tools/make-vhost-guest.sh once for every real-guest test.</summary>
public sealed class VhostGuestFixture : IDisposable
{
    public VhostGuestFixture()
    {
        Directory.CreateDirectory(Dir);
        (int code, string o, string e) = Tools.Run("bash", Script, "build", Dir);
        Assert.True(code == 0, $"make-vhost-guest.sh build: {o}{e}");
        Pattern = File.ReadAllBytes(System.IO.Path.Combine(Dir, "pattern.bin"));
        Marker = File.ReadAllBytes(System.IO.Path.Combine(Dir, "marker.bin"));
    }

    public string Dir { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "vs-guest-" + Guid.NewGuid().ToString("N")[..12]);

    public byte[] Pattern { get; }

    public byte[] Marker { get; }

    /// <summary>The script in the repository the tests were built from.</summary>
    public static string Script
    {
        get
        {
            for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                string candidate = System.IO.Path.Combine(d.FullName, "tools", "make-vhost-guest.sh");
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
            throw new FileNotFoundException("tools/make-vhost-guest.sh not found above " + AppContext.BaseDirectory);
        }
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

[CollectionDefinition("vhost-guest", DisableParallelization = true)]
public sealed class VhostGuestCollection : ICollectionFixture<VhostGuestFixture>;

/// <summary>
/// <c>serve</c> against a real Linux kernel: QEMU (TCG, q35) with a vhost-user-blk-pci device on the server's socket,
/// Debian's virtio_blk driver in a busybox initramfs. Each test is one QEMU run (the first boots twice: the guest
/// reboots in the middle, which stops and restarts every ring). Checks are against qemu-img, not ourselves.
/// </summary>
[Collection("vhost-guest")]
public sealed class ServeGuestTests(VhostGuestFixture guest)
{
    private const int Mib = 1 << 20;
    private const int DiskBytes = 16 * Mib;

    [Fact]
    public void Qcow2GuestReadsWritesFlushesDiscardsAndSurvivesAReboot()
    {
        using var dir = new TempDir();
        string image = dir.File("disk.qcow2");
        Tools.Qemu("create", "-q", "-f", "qcow2", image, "16M");
        Tools.QemuIo(image, "write -P 0x5a 0 512k", "write -P 0x33 4M 2M", "write -P 0x77 9M 64k");
        byte[] before = RawOf(image, dir.File("before.raw"));

        (string console, string serverLog) = Boot(dir, image, ["--num-queues", "2"], ["--queues", "2", "--reboot"]);

        Assert.Contains($"VSTEST MD5 {Md5(before)}", console, StringComparison.Ordinal);
        Assert.Contains("VSTEST QUEUES 2", console, StringComparison.Ordinal);
        Assert.Equal(2, Regex.Count(console, "VSTEST READBACK 16 OK"));
        Assert.Contains("VSTEST PHASE2", console, StringComparison.Ordinal);
        Assert.Contains("VSTEST READBACK 32 OK", console, StringComparison.Ordinal);
        Assert.Contains("VSTEST DISCARDED", console, StringComparison.Ordinal);
        Assert.Contains($"VSTEST DISCARD-MD5 {Md5(new byte[Mib])}", console, StringComparison.Ordinal);
        Assert.True(Flushes(serverLog) > 0, "the guest's fsync never reached the server as FLUSH: " + serverLog);

        AssertCheckClean(image);
        byte[] after = RawOf(image, dir.File("after.raw"));
        Assert.Equal(guest.Pattern, after.AsSpan(Mib, guest.Pattern.Length).ToArray());
        Assert.Equal(guest.Pattern, after.AsSpan(2 * Mib, guest.Pattern.Length).ToArray());
        Assert.Equal(guest.Marker, after.AsSpan(DiskBytes - 4096).ToArray());
        Assert.True(after.AsSpan(4 * Mib, Mib).IndexOfAnyExcept((byte)0) < 0, "the discarded range does not read as zeroes");
        // Everything the guest did not write is as before.
        Assert.Equal(before.AsSpan(0, Mib).ToArray(), after.AsSpan(0, Mib).ToArray());
        Assert.Equal(before.AsSpan(5 * Mib, DiskBytes - 5 * Mib - 4096).ToArray(), after.AsSpan(5 * Mib, DiskBytes - 5 * Mib - 4096).ToArray());
    }

    [Fact]
    public void VhdxGuestOnPackedRings()
    {
        using var dir = new TempDir();
        string image = dir.File("disk.vhdx");
        Tools.Qemu("create", "-q", "-f", "vhdx", image, "16M");
        Tools.QemuIo(image, "write -P 0x21 0 1M", "write -P 0x42 6M 3M");
        byte[] before = RawOf(image, dir.File("before.raw"));

        (string console, string serverLog) = Boot(dir, image, [], ["--packed"]);

        Assert.Contains($"VSTEST MD5 {Md5(before)}", console, StringComparison.Ordinal);
        Assert.Contains("VSTEST READBACK 16 OK", console, StringComparison.Ordinal);
        Assert.Contains("Packed", serverLog, StringComparison.Ordinal);
        AssertCheckClean(image);
        byte[] after = RawOf(image, dir.File("after.raw"));
        Assert.Equal(guest.Pattern, after.AsSpan(Mib, guest.Pattern.Length).ToArray());
        // Discard may keep or drop data in this format; what the guest read back afterwards must be what the image holds.
        Match m = Regex.Match(console, "VSTEST DISCARD-MD5 ([0-9a-f]{32})");
        Assert.True(m.Success, console);
        Assert.Equal(m.Groups[1].Value, Md5(after.AsSpan(4 * Mib, Mib).ToArray()));
        Assert.Equal(before.AsSpan(5 * Mib).ToArray(), after.AsSpan(5 * Mib).ToArray());
    }

    [Fact]
    public async Task ServerKilledMidWritesLeavesACheckableImageAndTheGuestFinishesAfterARestart()
    {
        using var dir = new TempDir();
        string image = dir.File("disk.qcow2");
        Tools.Qemu("create", "-q", "-f", "qcow2", image, "16M");
        string socket = dir.File("vu.sock");
        string console = dir.File("console.log");
        using ServeProcess first = ServeProcess.Start(socket, image, "--num-queues", "2");
        Task<(int Code, string Out, string Err)> boot = Task.Run(() => Tools.Run("bash",
            [VhostGuestFixture.Script, "boot", guest.Dir, socket, console, "--timeout", "400", "--queues", "2", "--stress", "--reconnect"]));
        var waiting = Stopwatch.StartNew();
        while (!ConsoleHas(console, "VSTEST STRESS") && !boot.IsCompleted && waiting.Elapsed < TimeSpan.FromSeconds(400))
        {
            Thread.Sleep(50);
        }
        Assert.True(ConsoleHas(console, "VSTEST STRESS"), "the guest never started writing: " + Read(console));
        // The guest issues 160 fsync'd writes taking seconds under TCG: this lands in the middle of them.
        Thread.Sleep(700);
        first.Kill();
        Assert.False(ConsoleHas(console, "VSTEST DONE"), "the guest finished before the kill: the test proved nothing");

        // Crash consistency: whatever the kill interrupted, the image has no corruption (a crash may leak clusters, as in QEMU).
        (int code, string o, string e) = Tools.Run("qemu-img", "check", image);
        Assert.True(code is 0 or 3, $"qemu-img check after kill -9 exited {code}: {o}{e}");

        // QEMU reconnects to a new server, which takes the rings at QEMU's saved positions; in-flight writes are redone.
        using ServeProcess second = ServeProcess.Start(socket, image, "--num-queues", "2", "--once");
        (int bootCode, string bootOut, string bootErr) = await boot;
        string text = Read(console);
        Assert.True(bootCode == 0, $"guest run failed ({bootCode}): {bootOut}{bootErr}\n--- console ---\n{text}\n--- server ---\n{second.Log()}");
        for (int k = 0; k < 8; k++)
        {
            Assert.Contains($"VSTEST READBACK {16 + k * 4} OK", text, StringComparison.Ordinal);
        }
        Assert.DoesNotContain("WRITE-ERROR", text, StringComparison.Ordinal);
        Assert.True(second.WaitForExit(), "serve --once did not exit after the front-end left");
        Assert.Matches(@"Ring \d started: Split, size \d+, position RingPosition \{ NextAvail = [1-9]", second.Log());
        (code, o, e) = Tools.Run("qemu-img", "check", image);
        Assert.True(code is 0 or 3, $"qemu-img check at the end exited {code}: {o}{e}");
        byte[] after = RawOf(image, dir.File("after.raw"));
        for (int k = 0; k < 8; k++)
        {
            Assert.Equal(guest.Pattern, after.AsSpan(Mib + k * guest.Pattern.Length, guest.Pattern.Length).ToArray());
        }
    }

    private static bool ConsoleHas(string console, string text) => Read(console).Contains(text, StringComparison.Ordinal);

    private static string Read(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
        catch (FileNotFoundException)
        {
            return "";
        }
    }

    /// <summary>Runs <c>serve --once</c> and one guest; returns the guest console and the server's log.</summary>
    private (string Console, string ServerLog) Boot(TempDir dir, string image, string[] serveArgs, string[] bootArgs)
    {
        string socket = dir.File("vu.sock");
        string console = dir.File("console.log");
        using ServeProcess server = ServeProcess.Start(socket, image, [.. serveArgs, "--once"]);
        (int code, string o, string e) = Tools.Run("bash", [VhostGuestFixture.Script, "boot", guest.Dir, socket, console, "--timeout", "300", .. bootArgs]);
        string consoleText = Read(console);
        Assert.True(code == 0, $"guest run failed ({code}): {o}{e}\n--- console ---\n{consoleText}");
        // QEMU is gone, so the --once server finishes on its own.
        Assert.True(server.WaitForExit(), "serve --once did not exit after the front-end left");
        Assert.True(server.ExitCode == 0, $"serve exited {server.ExitCode}: {server.Log()}");
        return (consoleText, server.Log());
    }

    private static long Flushes(string serverLog)
    {
        Match m = Regex.Match(serverLog, @"(\d+) flushes");
        return m.Success ? long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : -1;
    }

    private static byte[] RawOf(string image, string raw)
    {
        Tools.Qemu("convert", "-O", "raw", image, raw);
        return File.ReadAllBytes(raw);
    }

    private static void AssertCheckClean(string image)
    {
        (int code, string o, string e) = Tools.Run("qemu-img", "check", image);
        Assert.True(code == 0, $"qemu-img check {image}: {o}{e}");
    }

#pragma warning disable CA5351 // md5 is what the guest's busybox prints; it is a content check here, not security.
    private static string Md5(byte[] data) => Convert.ToHexStringLower(MD5.HashData(data));
#pragma warning restore CA5351

    /// <summary>A <c>virtioscope serve -v</c> process, started once its socket exists; killed on disposal if still running.</summary>
    private sealed class ServeProcess : IDisposable
    {
        private readonly Process _process;
        private readonly System.Text.StringBuilder _log = new();
        private readonly Lock _lock = new();

        private ServeProcess(Process process) => _process = process;

        public int ExitCode => _process.ExitCode;

        public static ServeProcess Start(string socket, string image, params string[] args)
        {
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (string a in (string[])[System.IO.Path.Combine(AppContext.BaseDirectory, "virtioscope.dll"), "serve", "--vhost-user-blk", socket, "-v", .. args, image])
            {
                psi.ArgumentList.Add(a);
            }
            var server = new ServeProcess(new Process { StartInfo = psi });
            server._process.ErrorDataReceived += (_, e) => server.Append(e.Data);
            server._process.OutputDataReceived += (_, e) => server.Append(e.Data);
            server._process.Start();
            server._process.BeginErrorReadLine();
            server._process.BeginOutputReadLine();
            // Not the socket file, which may be a stale one from a killed server, nor a probe connection, which a
            // --once server would take as its one front-end: the line serve logs once it listens.
            var ready = Stopwatch.StartNew();
            while (!server._process.HasExited && ready.Elapsed < TimeSpan.FromSeconds(120) && !server.Log().Contains("over vhost-user-blk on", StringComparison.Ordinal))
            {
                Thread.Sleep(100);
            }
            Assert.True(server.Log().Contains("over vhost-user-blk on", StringComparison.Ordinal), "serve never listened: " + server.Log());
            return server;
        }

        private void Append(string? line)
        {
            if (line is not null)
            {
                lock (_lock)
                {
                    _log.AppendLine(line);
                }
            }
        }

        public bool WaitForExit()
        {
            if (!_process.WaitForExit(120_000))
            {
                return false;
            }
            _process.WaitForExit(); // flushes the asynchronous readers
            return true;
        }

        public void Kill()
        {
            _process.Kill();
            _process.WaitForExit();
        }

        public string Log()
        {
            lock (_lock)
            {
                return _log.ToString();
            }
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit();
            }
            _process.Dispose();
        }
    }
}
