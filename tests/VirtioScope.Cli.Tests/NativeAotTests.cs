using System.Text.Json;

namespace VirtioScope.Cli.Tests;

/// <summary>
/// The shipped tool is the native AOT build of tools/publish.sh, where reflection the trimmer cannot see fails only at
/// run time. This publishes a copy of the sources and runs the paths that touch JSON, native libraries (zlib, zstd)
/// and the device through the AOT binary, checking its output with qemu-img.
/// </summary>
public sealed class NativeAotTests
{
    [Fact]
    public void Published_native_binary_converts_runs_records_and_debugs()
    {
        using var dir = new TempDir();
        string vs = Publish(dir.File("tree"));

        string raw = dir.MakeRaw("in.raw", 8 << 20, seed: 7);
        foreach (string compression in new[] { "zlib", "zstd" })
        {
            string q = dir.File($"out-{compression}.qcow2");
            Tools.AssertOk(Tools.Run(vs, "convert", "-c", "-O", "qcow2", "-o", $"compression_type={compression}", raw, q));
            Tools.AssertCleanAndEqual(q, raw);
        }
        string plain = dir.File("out.qcow2");
        Tools.AssertOk(Tools.Run(vs, "convert", "-O", "qcow2", raw, plain));
        Tools.AssertCleanAndEqual(plain, raw);

        (int code, string info, string err) = Tools.Run(vs, "info", "--output", "json", plain);
        Assert.True(code == 0, err);
        using (JsonDocument doc = JsonDocument.Parse(info))
        {
            Assert.Equal(8 << 20, doc.RootElement.GetProperty("virtual-size").GetInt64());
            Assert.Equal("qcow2", doc.RootElement.GetProperty("format").GetString());
        }

        string trace = dir.File("t.vstrace");
        Tools.AssertOk(Tools.Run(vs, "run", plain, "--workload", "randrw", "--requests", "500", "--verify"));
        Tools.AssertOk(Tools.Run("qemu-img", "check", plain));
        Tools.AssertOk(Tools.Run(vs, "run", "--memory", "16M", "--workload", "randrw", "--requests", "500", "--record", trace));
        (code, string replay, err) = Tools.Run(vs, "replay", trace, "--verify", "--output", "json");
        Assert.True(code == 0, replay + err);
        using (JsonDocument doc = JsonDocument.Parse(replay))
        {
            Assert.True(doc.RootElement.GetProperty("identical").GetBoolean());
        }

        string script = dir.File("cmds");
        File.WriteAllLines(script, ["step 5", "regs", "queue 0", "info", "events 3", "breaks", "help"]);
        (code, string batch, err) = Tools.Run(vs, "debug", "--memory", "1M", "--batch", script, "--output", "json");
        Assert.True(code == 0, batch + err);
        string[] lines = batch.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(7, lines.Length);
        foreach (string line in lines)
        {
            using JsonDocument doc = JsonDocument.Parse(line);
            Assert.True(doc.RootElement.GetProperty("ok").GetBoolean(), line);
            Assert.NotEqual(JsonValueKind.Undefined, doc.RootElement.GetProperty("data").ValueKind);
        }
    }

    // Publishes from a copy of the sources, so its obj/ and bin/ never meet the build the tests run from.
    private static string Publish(string tree)
    {
        string root = RepoRoot();
        foreach (string file in new[] { "Directory.Build.props", "Directory.Packages.props", "global.json", ".editorconfig" })
        {
            CopyIfExists(Path.Combine(root, file), Path.Combine(tree, file));
        }
        CopyIfExists(Path.Combine(root, "tools", "publish.sh"), Path.Combine(tree, "tools", "publish.sh"));
        CopySources(Path.Combine(root, "src"), Path.Combine(tree, "src"));
        (int code, string o, string e) = Tools.Run("bash", Path.Combine(tree, "tools", "publish.sh"), Path.Combine(tree, "out"));
        Assert.True(code == 0, $"tools/publish.sh failed: {o}{e}");
        string binary = o.Trim();
        Assert.True(File.Exists(binary), $"no binary at '{binary}'");
        return binary;
    }

    private static void CopySources(string from, string to)
    {
        char sep = Path.DirectorySeparatorChar;
        foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string rel = Path.GetRelativePath(from, file);
            if (!rel.Contains($"{sep}bin{sep}", StringComparison.Ordinal) && !rel.Contains($"{sep}obj{sep}", StringComparison.Ordinal))
            {
                CopyIfExists(file, Path.Combine(to, rel));
            }
        }
    }

    private static void CopyIfExists(string from, string to)
    {
        if (!File.Exists(from))
        {
            return;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(to)!);
        File.Copy(from, to, overwrite: true);
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "VirtioScope.sln")))
            {
                return d.FullName;
            }
        }
        throw new InvalidOperationException("VirtioScope.sln not found above " + AppContext.BaseDirectory);
    }
}
