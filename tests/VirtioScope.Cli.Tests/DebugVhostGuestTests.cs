using System.Diagnostics;
using System.Text.Json;

namespace VirtioScope.Cli.Tests;

/// <summary>
/// <c>debug --vhost-user-blk</c> against a real Linux kernel under QEMU/TCG: the device starts paused, a step takes the
/// kernel's first request, a write breakpoint stops on the guest's first write, and after continue the guest finishes
/// its whole script. One QEMU run.
/// </summary>
[Collection("vhost-guest")]
public sealed class DebugVhostGuestTests(VhostGuestFixture guest)
{
    [Fact]
    public async Task BatchStepsAndBreaksOnARealGuestsRequests()
    {
        using var dir = new TempDir();
        string image = dir.File("disk.raw");
        Tools.Qemu("create", "-q", "-f", "raw", image, "16M");
        string socket = dir.File("vu.sock");
        string console = dir.File("console.log");
        string batch = dir.File("session.batch");
        File.WriteAllLines(batch,
        [
            "wait-connect 300", "step 300", "queue 0", "break type=write", "continue 300", "request", "delete", "continue", "wait-disconnect 400", "info",
        ]);
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in (string[])[Path.Combine(AppContext.BaseDirectory, "virtioscope.dll"), "debug", "--vhost-user-blk", socket, image, "-f", "raw", "--batch", batch, "--output", "json"])
        {
            psi.ArgumentList.Add(a);
        }
        using var debug = Process.Start(psi)!;
        Task<string> stdout = debug.StandardOutput.ReadToEndAsync();
        Task<string> stderr = debug.StandardError.ReadToEndAsync();
        Assert.True(SpinWait.SpinUntil(() => File.Exists(socket) || debug.HasExited, TimeSpan.FromSeconds(120)), "debug never listened");
        (int code, string o, string e) = Tools.Run("bash", [VhostGuestFixture.Script, "boot", guest.Dir, socket, console, "--timeout", "400"]);
        Assert.True(debug.WaitForExit(120_000), "debug did not end after its batch");
        string output = await stdout;
        string errors = await stderr;
        Assert.True(code == 0, $"guest run failed ({code}): {o}{e}\n--- debug ---\n{output}{errors}\n--- console ---\n{File.ReadAllText(console)}");
        Assert.True(debug.ExitCode == 0, $"debug exited {debug.ExitCode}: {output}{errors}");

        List<JsonElement> results = [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)];
        Assert.Equal(10, results.Count);
        Assert.All(results, r => Assert.True(r.GetProperty("ok").GetBoolean(), r.ToString()));
        // The kernel's first request is its partition-table read at sector 0, taken alone while the rest waits.
        JsonElement first = results[1].GetProperty("data").GetProperty("request");
        Assert.Equal("in", first.GetProperty("type").GetString());
        Assert.Equal(0UL, first.GetProperty("sector").GetUInt64());
        Assert.Equal("OK", first.GetProperty("status").GetString());
        Assert.Equal(1L, results[1].GetProperty("position").GetInt64());
        Assert.Equal(0, results[2].GetProperty("data").GetProperty("inFlight").GetInt32());
        // The guest's first write is its O_DIRECT pattern at 1 MiB (sector 2048).
        JsonElement hit = results[4].GetProperty("data");
        Assert.Equal(1, hit.GetProperty("breakpoint").GetInt32());
        Assert.Equal("out", hit.GetProperty("request").GetProperty("type").GetString());
        Assert.Equal(2048UL, hit.GetProperty("request").GetProperty("sector").GetUInt64());
        Assert.Equal(2048UL, results[5].GetProperty("data").GetProperty("sector").GetUInt64());
        Assert.True(results[9].GetProperty("data").GetProperty("completions").GetInt64() > results[4].GetProperty("position").GetInt64());

        string consoleText = File.ReadAllText(console);
        Assert.Contains("VSTEST READBACK 16 OK", consoleText, StringComparison.Ordinal);
        Assert.Contains("VSTEST DONE", consoleText, StringComparison.Ordinal);
        byte[] after = File.ReadAllBytes(image);
        Assert.Equal(guest.Pattern, after.AsSpan(1 << 20, guest.Pattern.Length).ToArray());
    }
}

/// <summary><c>debug --vhost-user-blk</c> usage errors: one clear line and exit 2, before anything listens.</summary>
public sealed class DebugVhostUsageTests
{
    [Theory]
    [InlineData("--record|t.vstrace|--batch|-", "--record cannot be combined with --vhost-user-blk")]
    [InlineData("--rw|--batch|-", "--rw does not apply to --vhost-user-blk")]
    [InlineData("--record|t.vstrace", "--record cannot be combined with --vhost-user-blk")]
    [InlineData("--num-queues|65", "--num-queues 65 is outside 1..64")]
    [InlineData("--num-queues|0|--batch|-", "--num-queues 0 is outside 1..64")]
    public void BadUsageExitsTwoWithOneLine(string extra, string message)
    {
        using var dir = new TempDir();
        string image = dir.File("disk.raw");
        File.WriteAllBytes(image, new byte[1 << 20]);
        string socket = dir.File("vu.sock");
        (int code, _, string err) = Tools.Cli(["debug", "--vhost-user-blk", socket, image, .. extra.Split('|', StringSplitOptions.RemoveEmptyEntries)]);
        Assert.Equal(2, code);
        Assert.Contains(message, err, StringComparison.Ordinal);
        Assert.False(File.Exists(socket), "the server listened despite the bad usage");
    }

    [Fact]
    public void MissingImageIsNamed()
    {
        using var dir = new TempDir();
        (int code, _, string err) = Tools.Cli("debug", "--vhost-user-blk", dir.File("vu.sock"), dir.File("nope.qcow2"), "--batch", "-");
        Assert.Equal(2, code);
        Assert.Contains("nope.qcow2: no such file", err, StringComparison.Ordinal);
    }
}
