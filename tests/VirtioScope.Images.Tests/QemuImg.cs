using System.Diagnostics;

namespace VirtioScope.Images.Tests;

/// <summary>Runs qemu-img and qemu-io for fixtures and verdicts. A missing binary fails the test (never skips).</summary>
internal static class QemuImg
{
    public static (int Code, string Out, string Err) Run(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new InvalidOperationException($"{tool} did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"{tool} is required for interop tests (install Debian's qemu-utils): {e.Message}", e);
        }
        using (p)
        {
            Task<string> err = p.StandardError.ReadToEndAsync();
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, output, err.Result);
        }
    }

    public static string Img(params string[] args)
    {
        (int code, string output, string err) = Run("qemu-img", args);
        if (code != 0)
        {
            throw new InvalidOperationException($"qemu-img {string.Join(' ', args)} failed ({code}): {err}{output}");
        }
        return output;
    }

    public static void Io(string image, params string[] commands)
    {
        var args = new List<string> { "-f", "qcow2" };
        foreach (string c in commands)
        {
            args.Add("-c");
            args.Add(c);
        }
        args.Add(image);
        (int code, string output, string err) = Run("qemu-io", [.. args]);
        if (code != 0 || output.Contains("error", StringComparison.OrdinalIgnoreCase) || output.Contains("failed", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"qemu-io {string.Join(' ', args)} failed ({code}): {err}{output}");
        }
    }

    /// <summary>The image's content as qemu-img sees it.</summary>
    public static byte[] ToRaw(string image, string dir, string? snapshot = null)
    {
        string raw = Path.Combine(dir, $"expect-{Guid.NewGuid():N}.raw");
        if (snapshot is null)
        {
            Img("convert", "-O", "raw", image, raw);
        }
        else
        {
            Img("convert", "-l", snapshot, "-O", "raw", image, raw);
        }
        byte[] bytes = File.ReadAllBytes(raw);
        File.Delete(raw);
        return bytes;
    }

    /// <summary>qemu-img check's exit code and output (0 clean, 2 corruptions, 3 leaks).</summary>
    public static (int Code, string Output) Check(string image)
    {
        (int code, string output, string err) = Run("qemu-img", "check", image);
        return (code, output + err);
    }
}

/// <summary>A temporary directory removed after the test.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "vs-img-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
