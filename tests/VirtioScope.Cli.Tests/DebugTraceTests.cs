using System.Text.Json;
using VirtioScope.Tracing.Format;

namespace VirtioScope.Cli.Tests;

/// <summary><c>debug --trace</c> (a recording as the debugger's guest) and <c>debug --record</c>, in batch mode with JSON output.</summary>
[Collection("console")]
public sealed class DebugTraceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vscope-debug-trace-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string P(string name) => Path.Combine(_dir, name);

    private static readonly string[] Workload = ["--requests", "200", "--queue-depth", "4", "--workload", "randrw"];

    private static string[] Layout(string layout) => layout switch
    {
        "packed" => ["--packed"],
        "legacy" => ["--legacy-mmio"],
        _ => [],
    };

    /// <summary>Runs a batch script and returns one parsed JSON object per command (all must have worked).</summary>
    private List<JsonElement> Batch(string script, params string[] args)
    {
        string path = P("script.txt");
        File.WriteAllText(path, script);
        (int exit, string stdout, string stderr) = CliRunner.Run([.. new[] { "debug" }, .. args, "--batch", path, "--output", "json"]);
        Assert.True(exit == 0, stderr + stdout);
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
    }

    private static string Registers(JsonElement regs) =>
        string.Join(";", regs.GetProperty("data").GetProperty("registers").EnumerateArray()
            .Select(r => $"{r.GetProperty("name").GetString()}={r.GetProperty("value").GetUInt64()}"));

    /// <summary>
    /// The queue view's scalar fields (indices, addresses, flags). Left out: the ring tables and used_event, which
    /// show guest memory as the guest wrote it; a recording holds guest memory as the device read it, and the device
    /// reads used_event only when it decides whether to interrupt. On a packed ring the requests in flight are
    /// counted from the descriptors' flags in guest memory, so they are left out too.
    /// </summary>
    private static string QueueScalars(JsonElement queue) =>
        string.Join(";", queue.GetProperty("data").EnumerateObject()
            .Where(p => p.Value.ValueKind is not JsonValueKind.Array and not JsonValueKind.Object && p.Name != "usedEvent"
                && !(p.Name == "inFlight" && queue.GetProperty("data").GetProperty("format").GetString() == "packed"))
            .Select(p => $"{p.Name}={p.Value}"));

    [Theory]
    [InlineData("split")]
    [InlineData("packed")]
    [InlineData("legacy")]
    public void A_trace_steps_forward_and_back_with_the_same_views_as_the_live_session_it_recorded(string layout)
    {
        string trace = P("live.vstrace");
        string[] live = [.. new[] { "--memory", "1M" }, .. Workload, .. Layout(layout)];
        List<JsonElement> l = Batch("next 7\nregs\nqueue 0\nchain\ncontinue\n", [.. live, "--record", trace]);
        Assert.Equal("finished", l[4].GetProperty("state").GetString());

        List<JsonElement> t = Batch("step 3\nnext 7\nregs\nqueue 0\nchain\nrequest\nevents 5\nstep\nregs\nqueue 0\nstep 40\nqueue 0\nback 40\nregs\nqueue 0\nback request\ninfo\ncontinue\ninfo\n",
            "--trace", trace);
        // A trace session starts after the recording's bus discovery and reset (4 accesses), like a live one.
        Assert.Equal(7, t[0].GetProperty("position").GetInt64());
        // At the 7th completion the trace session is where the live one was, register for register.
        long at = l[0].GetProperty("position").GetInt64();
        Assert.Equal(at, t[1].GetProperty("position").GetInt64());
        Assert.Equal(7, t[2].GetProperty("data").GetProperty("completions").GetInt64());
        Assert.Equal(Registers(l[1]), Registers(t[2]));
        Assert.Equal(QueueScalars(l[2]), QueueScalars(t[3]));
        Assert.Equal(l[3].GetProperty("data").GetProperty("sector").GetUInt64(), t[4].GetProperty("data").GetProperty("sector").GetUInt64());
        Assert.Equal(l[3].GetProperty("data").GetProperty("type").GetString(), t[5].GetProperty("data").GetProperty("type").GetString());
        Assert.Equal(5, t[6].GetProperty("data").GetArrayLength());
        // The first step finishes the access the completion was in; forward 40 accesses and back 40 lands on the same registers and queue.
        Assert.Equal(at, t[7].GetProperty("position").GetInt64());
        Assert.Equal(at + 40, t[10].GetProperty("position").GetInt64());
        Assert.Equal(at, t[12].GetProperty("position").GetInt64());
        Assert.Equal(Registers(t[8]), Registers(t[13]));
        Assert.Equal(t[9].GetProperty("data").ToString(), t[14].GetProperty("data").ToString());
        Assert.NotEqual(t[9].GetProperty("data").ToString(), t[11].GetProperty("data").ToString());
        Assert.True(t[15].GetProperty("position").GetInt64() <= at);
        // Back one request from after the access: right after that access's last completion.
        Assert.Equal(t[13].GetProperty("data").GetProperty("completions").GetInt64(), t[16].GetProperty("data").GetProperty("completions").GetInt64());
        Assert.Contains("identical to the recording so far", t[16].GetProperty("data").GetProperty("source").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("as recorded: debug --workload randrw", t[16].GetProperty("data").GetProperty("workload").GetString(), StringComparison.Ordinal);
        Assert.Equal("finished", t[17].GetProperty("state").GetString());
        Assert.Equal(200, t[18].GetProperty("data").GetProperty("completions").GetInt64());
        string source = t[18].GetProperty("data").GetProperty("source").GetString()!;
        using TraceReader reader = TraceReader.Open(trace);
        Assert.Contains($"event {reader.EventCount} of {reader.EventCount}; identical", source, StringComparison.Ordinal);
    }

    [Fact]
    public void A_run_recording_over_an_image_opens_against_the_recorded_image_and_shows_where_another_image_differs()
    {
        string image = P("disk.raw");
        byte[] content = new byte[4 << 20];
        new Random(9).NextBytes(content);
        File.WriteAllBytes(image, content);
        string trace = P("run.vstrace");
        (int exit, string stdout, string stderr) = CliRunner.Run("run", image, "--workload", "randread", "--requests", "100", "--queue-depth", "4", "--record", trace);
        Assert.True(exit == 0, stderr + stdout);

        List<JsonElement> same = Batch("next 20\nchain\ncontinue\ninfo\n", "--trace", trace);
        Assert.Equal(100, same[3].GetProperty("data").GetProperty("completions").GetInt64());
        Assert.Contains("identical to the recording so far", same[3].GetProperty("data").GetProperty("source").GetString(), StringComparison.Ordinal);
        Assert.Equal(image, same[3].GetProperty("data").GetProperty("medium").GetString());

        string changed = P("changed.raw");
        content[0] ^= 0xff;
        foreach (int i in Enumerable.Range(0, content.Length / 512))
        {
            content[i * 512] ^= 0xff;
        }
        File.WriteAllBytes(changed, content);
        (exit, stdout, _) = CliRunner.Run("replay", trace, changed, "--verify", "--output", "json");
        Assert.Equal(1, exit);
        long expected = JsonDocument.Parse(stdout).RootElement.GetProperty("divergence").GetProperty("event").GetInt64();
        List<JsonElement> other = Batch("continue\ninfo\n", changed, "--trace", trace);
        Assert.Contains($"differs from the recording from event #{expected} ", other[1].GetProperty("data").GetProperty("source").GetString(), StringComparison.Ordinal);
        // The image given is protected: the session's writes (none here) and reads leave it as it was.
        Assert.Equal(content, File.ReadAllBytes(changed));
    }

    [Fact]
    public void A_full_recording_opens_against_its_own_copy_of_the_original_content()
    {
        string image = P("changing.raw");
        byte[] content = new byte[2 << 20];
        new Random(13).NextBytes(content);
        File.WriteAllBytes(image, content);
        string full = P("full.vstrace");
        string hashes = P("hashes.vstrace");
        string[] run = ["--workload", "randrw", "--requests", "200", "--queue-depth", "4"];
        (int exit, string stdout, string stderr) = CliRunner.Run(["run", image, .. run, "--record", full, "--full"]);
        Assert.True(exit == 0, stderr + stdout);
        File.WriteAllBytes(image, content);
        (exit, stdout, stderr) = CliRunner.Run(["run", image, .. run, "--record", hashes]);
        Assert.True(exit == 0, stderr + stdout);
        // Both runs wrote to the image: it no longer holds what they read first.
        List<JsonElement> own = Batch("continue\ninfo\nbackend\n", "--trace", full);
        Assert.Contains("identical to the recording so far", own[1].GetProperty("data").GetProperty("source").GetString(), StringComparison.Ordinal);
        Assert.Contains("original content", own[1].GetProperty("data").GetProperty("medium").GetString(), StringComparison.Ordinal);
        Assert.Equal("overlay (content protected)", own[2].GetProperty("data").GetProperty("writes").GetString());
        List<JsonElement> changed = Batch("continue\ninfo\n", "--trace", hashes);
        Assert.Contains("differs from the recording", changed[1].GetProperty("data").GetProperty("source").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("split")]
    [InlineData("packed")]
    [InlineData("legacy")]
    public void Debug_record_replays_identically_after_compose_back_and_a_stop_inside_an_access(string layout)
    {
        string trace = P("session.vstrace");
        string[] live = [.. new[] { "--memory", "1M" }, .. Workload, .. Layout(layout)];
        // Ends paused at a completion, inside the notify write: the recording finishes that access and stops.
        List<JsonElement> r = Batch("next 30\ncompose write 64 8 0x5a\nnext 5\nback 20\nnext 50\ncompose flush 0 0\nnext 3\n", [.. live, "--record", trace]);
        Assert.Equal(7, r.Count);
        (int exit, string stdout, string stderr) = CliRunner.Run("replay", trace, "--verify");
        Assert.True(exit == 0, stderr + stdout);
        Assert.StartsWith("identical:", stdout, StringComparison.Ordinal);
        // The composed requests are in the recording: the write survived the back step that preceded it.
        (exit, stdout, _) = CliRunner.Run("trace", "show", trace);
        Assert.Equal(0, exit);
        Assert.Contains("Out sector 64 bytes 4096", stdout, StringComparison.Ordinal);
        Assert.Contains("Flush", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Debug_record_of_a_whole_session_matches_run_record_of_the_same_device()
    {
        string trace = P("whole.vstrace");
        List<JsonElement> r = Batch("continue\n", "--memory", "1M", "--requests", "300", "--queue-depth", "8", "--record", trace, "--full");
        Assert.Equal("finished", r[0].GetProperty("state").GetString());
        (int exit, string stdout, string stderr) = CliRunner.Run("replay", trace, "--verify");
        Assert.True(exit == 0, stderr + stdout);
        using TraceReader reader = TraceReader.Open(trace);
        Assert.True(reader.IsComplete);
        Assert.True(reader.Header.FullData);
        Assert.Equal(300, reader.Events().Count(e => e.Kind == RecordKind.Completion));
    }

    [Fact]
    public void Bad_traces_and_composing_in_a_trace_session_give_clear_messages()
    {
        (int exit, _, string stderr) = CliRunner.Run("debug", "--trace", P("missing.vstrace"), "--batch", "-");
        Assert.Equal(2, exit);
        Assert.Contains("missing.vstrace: no such file", stderr, StringComparison.Ordinal);

        string registerLevel = P("imported.vstrace");
        using (var w = new TraceWriter(registerLevel, new TraceHeader { Source = "qemu-log", Replayable = false, Backend = new BackendInfo { Kind = "none" } }))
        {
            w.MmioReadUnvalued(0, 4);
        }
        (exit, _, stderr) = CliRunner.Run("debug", "--trace", registerLevel, "--batch", "-");
        Assert.Equal(2, exit);
        Assert.Contains("register-level", stderr, StringComparison.Ordinal);

        string garbage = P("garbage.vstrace");
        File.WriteAllBytes(garbage, new byte[100]);
        (exit, _, stderr) = CliRunner.Run("debug", "--trace", garbage, "--batch", "-");
        Assert.Equal(2, exit);
        Assert.Contains("not a VirtioScope trace", stderr, StringComparison.Ordinal);

        string trace = P("small.vstrace");
        (exit, _, stderr) = CliRunner.Run("run", "--memory", "1M", "--requests", "20", "--queue-depth", "2", "--record", trace);
        Assert.True(exit == 0, stderr);
        string script = P("compose.txt");
        File.WriteAllText(script, "next\ncompose read 0 8\nnext\n");
        (exit, string stdout, _) = CliRunner.Run("debug", "--trace", trace, "--batch", script);
        Assert.Equal(1, exit);
        Assert.Contains("only the live guest submits composed requests", stdout, StringComparison.Ordinal);
        Assert.Contains("(next)", stdout[stdout.LastIndexOf("(next)", StringComparison.Ordinal)..], StringComparison.Ordinal);
        Assert.Contains("request completed", stdout[stdout.LastIndexOf("(next)", StringComparison.Ordinal)..], StringComparison.Ordinal);
    }
}
