using System.Diagnostics;

namespace VirtioScope.Cli.Tests;

/// <summary>Runs the virtioscope CLI (built next to the tests) and qemu-img. A missing qemu-img fails the test.</summary>
internal static class Tools
{
    private static readonly string CliDll = Path.Combine(AppContext.BaseDirectory, "virtioscope.dll");

    public static (int Code, string Out, string Err) Cli(params string[] args) => Run("dotnet", [CliDll, .. args]);

    public static (int Code, string Out, string Err) Run(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using Process p = Process.Start(psi) ?? throw new InvalidOperationException($"{tool} did not start");
        Task<string> err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output, err.Result);
    }

    public static string Qemu(params string[] args)
    {
        (int code, string o, string e) = Run("qemu-img", args);
        Assert.True(code == 0, $"qemu-img {string.Join(' ', args)}: {o}{e}");
        return o;
    }

    public static void QemuIo(string image, params string[] commands)
    {
        var args = new List<string>();
        foreach (string c in commands)
        {
            args.Add("-c");
            args.Add(c);
        }
        args.Add(image);
        (int code, string o, string e) = Run("qemu-io", [.. args]);
        Assert.True(code == 0 && !o.Contains("failed", StringComparison.Ordinal), $"qemu-io: {o}{e}");
    }

    public static void AssertCleanAndEqual(string image, string expectedRaw)
    {
        (int code, string o, string e) = Run("qemu-img", "check", image);
        Assert.True(code == 0, $"qemu-img check {image}: {o}{e}");
        (code, o, e) = Run("qemu-img", "compare", image, expectedRaw);
        Assert.True(code == 0, $"qemu-img compare {image} {expectedRaw}: {o}{e}");
    }

    public static void AssertOk((int Code, string Out, string Err) r)
        => Assert.True(r.Code == 0, $"exit {r.Code}: {r.Out}{r.Err}");
}

internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "vs-cli-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>A raw file with 25% patterned data, some compressible, the rest holes.</summary>
    public string MakeRaw(string name, int size, int seed)
    {
        string path = File(name);
        byte[] data = new byte[size];
        var rng = new Random(seed);
        for (int off = 0; off < size; off += 64 * 1024)
        {
            if (rng.Next(4) == 0)
            {
                int len = Math.Min(64 * 1024, size - off);
                if (rng.Next(2) == 0)
                {
                    rng.NextBytes(data.AsSpan(off, len));
                }
                else
                {
                    data.AsSpan(off, len).Fill((byte)('A' + rng.Next(26)));
                }
            }
        }
        System.IO.File.WriteAllBytes(path, data);
        return path;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
