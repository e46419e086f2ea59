using System.Text.Json;

namespace VirtioScope.Cli.Tests;

[Collection("console")]
public sealed class TraceCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vscope-trace-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string P(string name) => Path.Combine(_dir, name);

    private string RecordOnImage(string name, byte fill)
    {
        string image = P(name + ".raw");
        byte[] content = new byte[8 << 20];
        Array.Fill(content, fill);
        File.WriteAllBytes(image, content);
        string trace = P(name + ".vstrace");
        (int exit, string stdout, string stderr) = CliRunner.Run("run", image, "--workload", "randrw", "--requests", "300", "--record", trace);
        Assert.True(exit == 0, stderr + stdout);
        return trace;
    }

    [Fact]
    public void Run_record_then_replay_verify_is_identical_and_exits_0()
    {
        string trace = P("mem.vstrace");
        (int exit, _, string err) = CliRunner.Run("run", "--memory", "16M", "--workload", "randrw", "--requests", "300", "--packed", "--record", trace);
        Assert.True(exit == 0, err);
        (exit, string stdout, err) = CliRunner.Run("replay", trace, "--verify");
        Assert.True(exit == 0, err + stdout);
        Assert.StartsWith("identical:", stdout);
        (exit, stdout, _) = CliRunner.Run("replay", trace, "--verify", "--output", "json");
        Assert.Equal(0, exit);
        using JsonDocument doc = JsonDocument.Parse(stdout);
        Assert.True(doc.RootElement.GetProperty("identical").GetBoolean());
    }

    [Fact]
    public void Replay_against_a_changed_image_exits_1_with_the_first_divergence()
    {
        string trace = RecordOnImage("a", 0x11);
        // The run wrote to a.raw; a fresh copy of its original content replays identically.
        string original = P("original.raw");
        byte[] content = new byte[8 << 20];
        Array.Fill(content, (byte)0x11);
        File.WriteAllBytes(original, content);
        (int exit, string stdout, string err) = CliRunner.Run("replay", trace, original, "--verify");
        Assert.True(exit == 0, err + stdout);
        Assert.Equal(content, File.ReadAllBytes(original));
        string changed = P("changed.raw");
        Array.Fill(content, (byte)0x22);
        File.WriteAllBytes(changed, content);
        (exit, stdout, _) = CliRunner.Run("replay", trace, changed, "--verify");
        Assert.Equal(1, exit);
        Assert.Contains("first divergence at event #", stdout);
        Assert.Contains("backend data differs", stdout);
        Assert.Contains("events before:", stdout);
    }

    [Fact]
    public void Replay_errors_exit_2_with_one_line()
    {
        File.WriteAllText(P("junk.vstrace"), "this is not a trace at all, not even close");
        (int exit, string stdout, string err) = CliRunner.Run("replay", P("junk.vstrace"), "--verify");
        Assert.Equal(2, exit);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains("magic", err);
        Assert.Equal("", stdout);
        (exit, _, err) = CliRunner.Run("replay", P("missing.vstrace"));
        Assert.Equal(2, exit);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void Show_stats_and_diff()
    {
        string a = RecordOnImage("a", 0x11);
        string b = RecordOnImage("b", 0x11);
        string c = RecordOnImage("c", 0x33);
        (int exit, string stdout, _) = CliRunner.Run("trace", "show", a, "--from", "3", "--count", "5");
        Assert.Equal(0, exit);
        string[] lines = stdout.Trim().Split('\n');
        Assert.Equal(5, lines.Length);
        Assert.StartsWith("#3 ", lines[0]);
        (exit, stdout, _) = CliRunner.Run("trace", "show", a, "--count", "2", "--output", "json");
        Assert.Equal(0, exit);
        using (JsonDocument doc = JsonDocument.Parse(stdout))
        {
            Assert.Equal(2, doc.RootElement.GetArrayLength());
            Assert.Equal("MmioRead", doc.RootElement[0].GetProperty("kind").GetString());
        }
        (exit, stdout, _) = CliRunner.Run("trace", "stats", a);
        Assert.Equal(0, exit);
        Assert.Contains("requests:", stdout);
        Assert.Contains("service time", stdout);
        Assert.Contains("most-accessed sector ranges", stdout);
        (exit, stdout, _) = CliRunner.Run("trace", "stats", a, "--output", "json");
        Assert.Equal(0, exit);
        using (JsonDocument doc = JsonDocument.Parse(stdout))
        {
            Assert.True(doc.RootElement.GetProperty("requests").GetArrayLength() > 0);
        }
        (exit, stdout, _) = CliRunner.Run("trace", "diff", a, b);
        Assert.Equal(0, exit);
        Assert.StartsWith("identical", stdout);
        (exit, stdout, _) = CliRunner.Run("trace", "diff", a, c);
        Assert.Equal(1, exit);
        Assert.Contains("first divergence at event #", stdout);
    }

    [Fact]
    public void Import_and_lint_a_qemu_log_and_refuse_to_replay_it()
    {
        string log = P("qemu.log");
        File.WriteAllLines(log,
        [
            "1@1.000001:virtio_mmio_read virtio_mmio_read offset 0x0",
            "1@1.000002:virtio_mmio_write_offset virtio_mmio_write offset 0x70 value 0x0",
            "1@1.000003:virtio_mmio_write_offset virtio_mmio_write offset 0x70 value 0x1",
            "1@1.000004:virtio_mmio_write_offset virtio_mmio_write offset 0x50 value 0x0",
        ]);
        string trace = P("qemu.vstrace");
        (int exit, string stdout, string err) = CliRunner.Run("trace", "import", "--from", "qemu-log", log, "-o", trace);
        Assert.True(exit == 0, err);
        Assert.Contains("not replayed", stdout);
        (exit, stdout, _) = CliRunner.Run("trace", "lint", trace);
        Assert.Equal(1, exit);
        Assert.Contains("#3 notify-before-driver-ok", stdout);
        (exit, _, err) = CliRunner.Run("replay", trace, "--memory", "1M");
        Assert.Equal(2, exit);
        Assert.Contains("register-level", err);
    }

    [Fact]
    public void A_cut_recording_still_shows_with_a_warning()
    {
        string trace = P("cut.vstrace");
        (int exit, _, _) = CliRunner.Run("run", "--memory", "16M", "--requests", "3000", "--record", trace);
        Assert.Equal(0, exit);
        byte[] bytes = File.ReadAllBytes(trace);
        File.WriteAllBytes(trace, bytes[..(bytes.Length * 2 / 3)]);
        (exit, string stdout, string err) = CliRunner.Run("trace", "show", trace, "--count", "3");
        Assert.Equal(0, exit);
        Assert.Contains("cut short", err);
        Assert.Equal(3, stdout.Trim().Split('\n').Length);
    }

    [Fact]
    public void A_full_recording_replays_by_default_against_its_own_copy_of_the_original_content()
    {
        string image = P("full.raw");
        byte[] content = new byte[4 << 20];
        new Random(21).NextBytes(content);
        File.WriteAllBytes(image, content);
        string full = P("full.vstrace");
        string hashes = P("hashes.vstrace");
        (int exit, string stdout, string err) = CliRunner.Run("run", image, "--workload", "randrw", "--requests", "400", "--queue-depth", "8", "--record", full, "--full");
        Assert.True(exit == 0, err + stdout);
        // The run wrote to the image: replaying against it now differs where the run read blocks it had not yet written.
        File.WriteAllBytes(image, content);
        (exit, stdout, err) = CliRunner.Run("run", image, "--workload", "randrw", "--requests", "400", "--queue-depth", "8", "--record", hashes);
        Assert.True(exit == 0, err + stdout);
        byte[] afterRun = File.ReadAllBytes(image);
        Assert.NotEqual(content, afterRun);

        (exit, stdout, err) = CliRunner.Run("replay", full, "--verify");
        Assert.True(exit == 0, err + stdout);
        Assert.StartsWith("identical:", stdout, StringComparison.Ordinal);
        (exit, stdout, _) = CliRunner.Run("replay", hashes, "--verify");
        Assert.Equal(1, exit);
        Assert.Contains("backend data differs", stdout, StringComparison.Ordinal);
        // Neither replay touched the image.
        Assert.Equal(afterRun, File.ReadAllBytes(image));
    }
}
