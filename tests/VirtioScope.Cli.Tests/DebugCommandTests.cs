using System.Security.Cryptography;
using System.Text.Json;

namespace VirtioScope.Cli.Tests;

[Collection("console")]
public sealed class DebugCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vscope-debug-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Script(string text)
    {
        string path = Path.Combine(_dir, "script.txt");
        File.WriteAllText(path, text);
        return path;
    }

    private string Image()
    {
        string path = Path.Combine(_dir, "disk.raw");
        byte[] data = new byte[2 << 20];
        new Random(5).NextBytes(data);
        File.WriteAllBytes(path, data);
        return path;
    }

    [Fact]
    public void Batch_json_prints_one_object_per_command_and_exits_zero_when_all_worked()
    {
        string script = Script("step 3\nbreak status\ncontinue\nregs\ndelete all\nnext\nchain\nqueue 0\nevents 3\ninfo\n");
        (int exit, string stdout, string stderr) = CliRunner.Run("debug", "--memory", "1M", "--queue-depth", "4", "--pause-at", "first-access", "--batch", script, "--output", "json");
        Assert.True(exit == 0, stderr + stdout);
        string[] lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(10, lines.Length);
        using JsonDocument cont = JsonDocument.Parse(lines[2]);
        Assert.Equal(1, cont.RootElement.GetProperty("data").GetProperty("breakpoint").GetInt32());
        Assert.Equal("ACKNOWLEDGE", cont.RootElement.GetProperty("data").GetProperty("status").GetString());
        using JsonDocument info = JsonDocument.Parse(lines[9]);
        Assert.Contains("status 0 (reset) -> ACKNOWLEDGE", lines[2], StringComparison.Ordinal);
        using JsonDocument chain = JsonDocument.Parse(lines[6]);
        Assert.Equal("in", chain.RootElement.GetProperty("data").GetProperty("type").GetString());
        Assert.Contains("memory disk", info.RootElement.GetProperty("data").GetProperty("medium").GetString());
    }

    [Fact]
    public void Batch_from_stdin_in_text_reports_bad_commands_and_goes_on_with_exit_one()
    {
        TextReader oldIn = Console.In;
        Console.SetIn(new StringReader("frob\nbreak mmio 0x3\nstep\n"));
        try
        {
            (int exit, string stdout, _) = CliRunner.Run("debug", "--memory", "1M", "--batch", "-");
            Assert.Equal(1, exit);
            Assert.Contains("error: unknown command 'frob' (try help)", stdout);
            Assert.Contains("error: register offset 0x3 is not 4-byte aligned", stdout);
            // The default start is after bus discovery and the reset (access 4): the step reads the status back.
            Assert.Contains("at access 5 (from 4): step done; status 0 (reset)", stdout);
        }
        finally
        {
            Console.SetIn(oldIn);
        }
    }

    [Fact]
    public void The_image_is_protected_unless_rw()
    {
        string image = Image();
        string before = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(image)));
        string script = Script("next 40\nbackend\n");
        (int exit, string stdout, string stderr) = CliRunner.Run("debug", image, "--workload", "randwrite", "--batch", script);
        Assert.True(exit == 0, stderr + stdout);
        Assert.Contains("writes to overlay (image protected)", stdout);
        Assert.Equal(before, Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(image))));
        (exit, stdout, stderr) = CliRunner.Run("debug", image, "--workload", "randwrite", "--rw", "--batch", script);
        Assert.True(exit == 0, stderr + stdout);
        Assert.NotEqual(before, Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(image))));
    }

    [Fact]
    public void Bad_usage_is_one_line_and_exit_two()
    {
        (int exit, _, string stderr) = CliRunner.Run("debug", Path.Combine(_dir, "missing.qcow2"), "--batch", "-");
        Assert.Equal(2, exit);
        Assert.Equal("virtioscope: " + Path.Combine(_dir, "missing.qcow2") + ": no such file", stderr.Trim());
        (exit, _, stderr) = CliRunner.Run("debug", "--memory", "1M", "--batch", Path.Combine(_dir, "nope.txt"));
        Assert.Equal(2, exit);
        Assert.Contains("nope.txt", stderr);
        (exit, _, stderr) = CliRunner.Run("debug", "--memory", "1M", "--output", "xml", "--batch", "-");
        Assert.Equal(2, exit);
    }

    [Fact]
    public void Without_image_or_memory_the_demo_image_is_used_or_named_as_missing()
    {
        (int exit, string stdout, string stderr) = CliRunner.Run("debug", "--batch", Script("info\n"));
        if (exit == 2)
        {
            Assert.Equal("virtioscope: no IMAGE or --memory given, and the demo image sample-images/demo.qcow2 was not found", stderr.Trim());
        }
        else
        {
            Assert.Equal(0, exit);
            Assert.Contains("demo.qcow2", stdout);
        }
    }
}
