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

    /// <summary>
    /// Writes random bytes at each of <paramref name="writes"/> through the library (and what <paramref name="more"/>
    /// does), flushes, and checks our read-back, <c>qemu-img check</c> (vpc has none: exit 63) and
    /// <c>qemu-img compare</c> against <paramref name="expected"/>, which is updated with what was written.
    /// </summary>
    public static void WriteAndVerify(string format, string img, byte[] expected, (long Offset, int Length)[] writes, int seed, Action<IDiskImage, byte[]>? more = null)
    {
        var rng = new Random(seed);
        using (IDiskImage image = DiskImage.Open(img, new ImageOpenOptions { Format = ImageFormatNames.Parse(format) }))
        {
            foreach ((long off, int len) in writes)
            {
                byte[] data = new byte[len];
                rng.NextBytes(data);
                image.Write(off, data);
                data.CopyTo(expected, off);
            }
            more?.Invoke(image, expected);
            image.Flush();
            TestData.AssertSame(expected, TestData.ReadAll(image), "own read-back");
        }
        (int code, string output, string err) = QemuImg.Run("qemu-img", "check", "-f", format, img);
        Assert.True(code == 0 || (format == "vpc" && code == 63), output + err);
        string raw = img + ".expected.raw";
        File.WriteAllBytes(raw, expected);
        QemuImg.Img("compare", "-f", format, "-F", "raw", img, raw);
        File.Delete(raw);
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

    /// <summary>
    /// MD5 of a VHD or VHDX chain as libvhdi (Debian python3-libvhdi) reads it: an independent reader of differencing
    /// images, which qemu-img 7.2 cannot open (VHDX) or reads without their parent (VHD). <paramref name="chain"/> is
    /// child first; each file gets the next as its parent.
    /// </summary>
    public static string LibvhdiMd5(params string[] chain)
    {
        const string script = """
            import hashlib, sys, pyvhdi
            files = []
            for path in sys.argv[1:]:
                f = pyvhdi.file()
                f.open(path)
                files.append(f)
            for child, parent in reversed(list(zip(files, files[1:]))):
                child.set_parent(parent)
            top = files[0]
            h = hashlib.md5()
            size = top.get_media_size()
            for off in range(0, size, 1 << 20):
                h.update(top.read_buffer_at_offset(min(1 << 20, size - off), off))
            print(h.hexdigest())
            """;
        // Debian's interpreter: python3-libvhdi installs the module for it, not for other pythons on PATH.
        (int code, string output, string err) = QemuImg.Run("/usr/bin/python3", ["-c", script, .. chain]);
        Assert.True(code == 0, $"libvhdi could not read {chain[0]} (is python3-libvhdi installed?): {err}");
        return output.Trim();
    }

    /// <summary>MD5 of a byte array as lowercase hex.</summary>
    public static string Md5(byte[] bytes)
    {
        using var md5 = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.MD5);
        md5.AppendData(bytes);
        return Convert.ToHexStringLower(md5.GetHashAndReset());
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
