using System.Diagnostics;

namespace VirtioScope.Mount.Tests;

/// <summary>Runs tools with a timeout; a missing tool is a failure, never a skip.</summary>
internal static class Shell
{
    private static readonly string CliDll = Path.Combine(AppContext.BaseDirectory, "virtioscope.dll");

    public static (int Code, string Out, string Err) Run(string tool, params string[] args) => RunWithTimeout(TimeSpan.FromSeconds(120), tool, args);

    public static (int Code, string Out, string Err) RunWithTimeout(TimeSpan timeout, string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using Process p = Process.Start(psi) ?? throw new InvalidOperationException($"{tool} did not start");
        Task<string> err = p.StandardError.ReadToEndAsync();
        Task<string> output = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{tool} {string.Join(' ', args)} did not finish within {timeout.TotalSeconds} s");
        }
        p.WaitForExit();
        return (p.ExitCode, output.Result, err.Result);
    }

    public static string Ok(string tool, params string[] args)
    {
        (int code, string o, string e) = Run(tool, args);
        Assert.True(code == 0, $"{tool} {string.Join(' ', args)} exited {code}: {o}{e}");
        return o;
    }

    public static (int Code, string Out, string Err) Vs(params string[] args) => Run("dotnet", [CliDll, .. args]);

    public static string Bash(string script) => Ok("bash", "-euo", "pipefail", "-c", script);

    /// <summary>md5sum of a file (the yardstick), with the tool itself.</summary>
    public static string Md5(string path) => Ok("md5sum", path).Split(' ')[0];

    public static bool IsMounted(string dir) => File.ReadLines("/proc/self/mountinfo").Any(l => l.Split(' ')[4] == dir);
}
