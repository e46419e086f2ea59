using System.Diagnostics;

namespace VirtioScope.Images.Tests.Formats;

/// <summary>qemu-io for any format, and the third-party sample images (decompressed into a temporary folder).</summary>
internal static class FormatFixtures
{
    public static void Io(string format, string image, params string[] commands)
    {
        var args = new List<string> { "-f", format };
        foreach (string c in commands)
        {
            args.Add("-c");
            args.Add(c);
        }
        args.Add(image);
        (int code, string output, string err) = QemuImg.Run("qemu-io", [.. args]);
        if (code != 0 || output.Contains("error", StringComparison.OrdinalIgnoreCase) || output.Contains("failed", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"qemu-io {string.Join(' ', args)} failed ({code}): {err}{output}");
        }
    }

    /// <summary>The image's content as qemu-img sees it with an explicit format (fixed VHDs probe as raw).</summary>
    public static byte[] ToRaw(string format, string image, string dir)
    {
        string raw = Path.Combine(dir, $"expect-{Guid.NewGuid():N}.raw");
        QemuImg.Img("convert", "-f", format, "-O", "raw", image, raw);
        byte[] bytes = File.ReadAllBytes(raw);
        File.Delete(raw);
        return bytes;
    }

    /// <summary>The folder of third-party images: ../shared/third-party-images relative to the repository root.</summary>
    public static string ThirdPartyDir()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "VirtioScope.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }
        Assert.True(dir is not null, "repository root not found above " + AppContext.BaseDirectory);
        string shared = Path.GetFullPath(Path.Combine(dir!, "..", "shared", "third-party-images"));
        Assert.True(Directory.Exists(shared), $"third-party images folder {shared} is missing");
        return shared;
    }

    /// <summary>Decompresses <paramref name="name"/>.bz2 into <paramref name="dir"/> and returns the path.</summary>
    public static string ThirdParty(string name, TempDir dir)
    {
        string source = Path.Combine(ThirdPartyDir(), name + ".bz2");
        Assert.True(File.Exists(source), $"{source} is missing");
        string target = dir.File(name);
        var psi = new ProcessStartInfo("bzip2") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-dc");
        psi.ArgumentList.Add(source);
        using Process p = Process.Start(psi) ?? throw new InvalidOperationException("bzip2 did not start");
        using (FileStream f = File.Create(target))
        {
            p.StandardOutput.BaseStream.CopyTo(f);
        }
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return target;
    }

    /// <summary>MD5 of the whole virtual disk read through the library, chunk by chunk.</summary>
    public static string Md5(IDiskImage image)
    {
        using var md5 = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.MD5);
        byte[] buf = new byte[1 << 20];
        for (long off = 0; off < image.VirtualSize; off += buf.Length)
        {
            int n = (int)Math.Min(buf.Length, image.VirtualSize - off);
            image.Read(off, buf.AsSpan(0, n));
            md5.AppendData(buf, 0, n);
        }
        return Convert.ToHexStringLower(md5.GetHashAndReset());
    }
}
