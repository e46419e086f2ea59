using System.Text.Json;

namespace VirtioScope.Cli.Tests;

[Collection("console")]
public sealed class RunCommandTests : IDisposable
{
    private readonly string _image = Path.Combine(Path.GetTempPath(), $"vscope-run-{Guid.NewGuid():n}.raw");

    public RunCommandTests()
    {
        using FileStream f = File.Create(_image);
        f.SetLength(16 << 20);
    }

    public void Dispose() => File.Delete(_image);

    public static TheoryData<string> Workloads => ["seqread", "seqwrite", "randread", "randwrite", "randrw", "flush", "discard", "write-zeroes", "get-id"];

    [Theory]
    [MemberData(nameof(Workloads))]
    public void Every_workload_runs_verified_on_a_raw_file(string workload)
    {
        (int exit, string stdout, string stderr) = CliRunner.Run("run", _image, "--workload", workload, "--requests", "600", "--verify", "--output", "json", "--flush-every", "50");
        Assert.True(exit == 0, stderr + stdout);
        using JsonDocument doc = JsonDocument.Parse(stdout);
        JsonElement r = doc.RootElement;
        Assert.True(r.GetProperty("requests").GetInt64() >= 600);
        Assert.Equal(0, r.GetProperty("errors").GetProperty("ioerr").GetInt64());
        Assert.Equal(0, r.GetProperty("verify_failures").GetInt64());
        if (workload is "seqwrite" or "randwrite" or "randrw")
        {
            Assert.True(r.GetProperty("bytes_written").GetInt64() > 0);
        }
    }

    [Theory]
    [InlineData("--packed")]
    [InlineData("--legacy-mmio")]
    [InlineData("--no-event-idx")]
    [InlineData("--no-indirect")]
    public void Transport_and_ring_variants_verify(string flag)
    {
        (int exit, string stdout, string stderr) = CliRunner.Run("run", _image, "--workload", "randrw", "--requests", "800", "--verify", flag, "--block-size", "8k");
        Assert.True(exit == 0, stderr + stdout);
        Assert.Contains("0 failures", stdout);
    }

    [Fact]
    public void Device_writes_to_a_qcow2_made_by_qemu_img_pass_qemu_img_check_and_compare()
    {
        string qcow = _image + ".qcow2";
        string raw = _image + ".out.raw";
        try
        {
            Tools.Qemu("create", "-f", "qcow2", qcow, "16M");
            (int exit, string stdout, string stderr) = CliRunner.Run("run", qcow, "--workload", "randrw", "--requests", "3000", "--verify", "--block-size", "16k");
            Assert.True(exit == 0, stderr + stdout);
            Tools.Qemu("check", qcow);
            // What the device wrote must read back identically through QEMU's own qcow2 driver.
            Tools.Qemu("convert", "-O", "raw", qcow, raw);
            (exit, stdout, stderr) = CliRunner.Run("compare", qcow, raw);
            Assert.True(exit == 0, stderr + stdout);
            Tools.Qemu("compare", qcow, raw);
        }
        finally
        {
            File.Delete(qcow);
            File.Delete(raw);
        }
    }

    [Fact]
    public void Multiqueue_run_uses_every_queue()
    {
        (int exit, string stdout, string stderr) = CliRunner.Run("run", "--memory", "8M", "--queues", "4", "--workload", "randwrite", "--requests", "400", "--verify", "--output", "json");
        Assert.True(exit == 0, stderr + stdout);
    }

    [Fact]
    public void Written_data_lands_in_the_raw_file()
    {
        (int exit, _, string stderr) = CliRunner.Run("run", _image, "--workload", "seqwrite", "--requests", "16", "--block-size", "4k", "--verify");
        Assert.True(exit == 0, stderr);
        byte[] head = new byte[4096];
        using FileStream f = File.OpenRead(_image);
        f.ReadExactly(head);
        Assert.NotEqual(-1, head.AsSpan().IndexOfAnyExcept((byte)0));
    }

    [Fact]
    public void Hostile_workload_reports_errors_and_exits_zero()
    {
        (int exit, string stdout, string stderr) = CliRunner.Run("run", _image, "--workload", "hostile", "--requests", "3000", "--verify", "--output", "json");
        Assert.True(exit == 0, stderr + stdout);
        using JsonDocument doc = JsonDocument.Parse(stdout);
        JsonElement errors = doc.RootElement.GetProperty("errors");
        Assert.True(errors.GetProperty("ioerr").GetInt64() > 0);
        Assert.True(errors.GetProperty("unsupp").GetInt64() > 0);
        Assert.True(doc.RootElement.GetProperty("device_resets").GetInt64() > 0);
        Assert.Equal(0, doc.RootElement.GetProperty("verify_failures").GetInt64());
    }

    [Fact]
    public void Write_workload_on_a_read_only_device_is_refused_up_front()
    {
        (int exit, string stdout, string stderr) = CliRunner.Run("run", _image, "--readonly", "--workload", "seqwrite", "--requests", "64");
        Assert.Equal(2, exit);
        Assert.Contains("read-only", stderr);
        Assert.Equal("", stdout);
        (exit, _, stderr) = CliRunner.Run("run", _image, "--readonly", "--workload", "randread", "--requests", "64", "--verify");
        Assert.True(exit == 0, stderr);
    }

    [Fact]
    public void Same_seed_same_result()
    {
        string[] args = ["run", "--memory", "4M", "--workload", "randrw", "--requests", "500", "--seed", "7", "--output", "json"];
        (_, string a, _) = CliRunner.Run(args);
        (_, string b, _) = CliRunner.Run(args);
        static string Strip(string json)
        {
            using JsonDocument d = JsonDocument.Parse(json);
            return string.Join(",", d.RootElement.EnumerateObject().Where(p => p.Name is not ("elapsed_s" or "iops" or "mb_per_s")).Select(p => p.ToString()));
        }
        Assert.Equal(Strip(a), Strip(b));
    }

    [Theory]
    [InlineData("run", "/nonexistent/disk.img")]
    [InlineData("run", "--memory", "12Q")]
    [InlineData("run", "--memory", "1000")]
    [InlineData("run", "--workload", "nope")]
    [InlineData("run", "--queue-depth", "0")]
    [InlineData("run", "--packed", "--legacy-mmio")]
    [InlineData("run", "--bogus-flag")]
    [InlineData("run", "--output", "xml")]
    public void Bad_input_is_one_line_and_exit_2(params string[] args)
    {
        (int exit, string stdout, string stderr) = CliRunner.Run(args);
        Assert.Equal(2, exit);
        Assert.StartsWith("virtioscope: ", stderr);
        Assert.DoesNotContain("   at ", stderr);
        Assert.Equal("", stdout);
    }
}
