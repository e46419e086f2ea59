namespace VirtioScope.Mount.Tests;

/// <summary>Read-only mounts through the CLI: disk, pN and info.json against qemu-img and sfdisk.</summary>
public sealed class ReadOnlyMountTests : IDisposable
{
    private readonly Scratch _s = new();

    public void Dispose() => _s.Dispose();

    [Theory]
    [InlineData("qemu-raw")]
    [InlineData("qemu-qcow2")]
    [InlineData("qemu-qcow2-compressed")]
    [InlineData("qemu-qcow2-backing")]
    [InlineData("vs-raw")]
    [InlineData("vs-qcow2")]
    [InlineData("vs-qcow2-backing")]
    [InlineData("qemu-vpc")]
    [InlineData("qemu-vhdx")]
    [InlineData("qemu-vmdk")]
    [InlineData("qemu-vmdk-stream")]
    [InlineData("vs-vpc")]
    [InlineData("vs-vhdx")]
    [InlineData("vs-vmdk-stream")]
    [InlineData("vs-vmdk")]
    public void Disk_md5_equals_qemu_img_convert_to_raw(string kind)
    {
        string src = Images.PatternRaw(_s.File("src.raw"), 6 << 20, seed: kind.Length);
        string image = _s.File("image");
        switch (kind)
        {
            case "qemu-raw": image = src; break;
            case "qemu-qcow2": Shell.Ok("qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=16k", src, image); break;
            case "qemu-qcow2-compressed": Shell.Ok("qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", src, image); break;
            case "qemu-qcow2-backing":
                Shell.Ok("qemu-img", "convert", "-f", "raw", "-O", "qcow2", src, _s.File("base.qcow2"));
                Shell.Ok("qemu-img", "create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", image);
                Shell.Ok("qemu-io", "-c", "write -P 0x5a 1M 640k", "-c", "write -z 3M 64k", image);
                break;
            case "vs-raw": AssertVs("convert", "-f", "raw", "-O", "raw", src, image); break;
            case "vs-qcow2": AssertVs("convert", "-f", "raw", "-O", "qcow2", src, image); break;
            case "vs-qcow2-backing":
                AssertVs("convert", "-f", "raw", "-O", "qcow2", src, _s.File("base.qcow2"));
                AssertVs("create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", image);
                Shell.Ok("qemu-io", "-c", "write -P 0xa5 2M 300k", image);
                break;
            case "qemu-vpc": Shell.Ok("qemu-img", "convert", "-f", "raw", "-O", "vpc", "-o", "force_size=on", src, image); break;
            case "qemu-vhdx": Shell.Ok("qemu-img", "convert", "-f", "raw", "-O", "vhdx", "-o", "block_size=1M", src, image); break;
            case "qemu-vmdk": Shell.Ok("qemu-img", "convert", "-f", "raw", "-O", "vmdk", src, image); break;
            case "qemu-vmdk-stream": Shell.Ok("qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", src, image); break;
            case "vs-vpc": AssertVs("convert", "-f", "raw", "-O", "vpc", "-o", "force_size=on", src, image); break;
            case "vs-vhdx": AssertVs("convert", "-f", "raw", "-O", "vhdx", src, image); break;
            case "vs-vmdk": AssertVs("convert", "-f", "raw", "-O", "vmdk", src, image); break;
            case "vs-vmdk-stream": AssertVs("convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", src, image); break;
            default: throw new ArgumentException(kind);
        }
        Shell.Ok("qemu-img", "convert", "-O", "raw", image, _s.File("expected.raw"));
        _s.Mount(image);
        Assert.Equal(new FileInfo(_s.File("expected.raw")).Length, new FileInfo(_s.In("disk")).Length);
        Assert.Equal(Shell.Md5(_s.File("expected.raw")), Shell.Md5(_s.In("disk")));
        _s.Unmount();
    }

    private static void AssertVs(params string[] args)
    {
        (int code, string o, string e) = Shell.Vs(args);
        Assert.True(code == 0, $"virtioscope {string.Join(' ', args)}: {o}{e}");
    }

    [Theory]
    [InlineData("mbr")]
    [InlineData("gpt")]
    public void Each_partition_equals_its_slice_of_the_disk(string table)
    {
        string raw = Images.PatternRaw(_s.File("src.raw"), 12 << 20, seed: 7);
        if (table == "mbr")
        {
            Images.Sfdisk(raw, "label: dos\\nstart=2048, size=4096, type=83\\nstart=6144, size=2048, type=c\\nstart=8192, type=5\\nstart=10240, size=4096, type=83\\nstart=16384, type=7\\n");
        }
        else
        {
            Shell.Ok("sgdisk", "-n", "1:2048:+2M", "-n", "3:0:+3M", "-n", "4:0:0", raw);
        }
        List<(int Number, long Offset, long Length)> parts = Images.SfdiskPartitions(raw);
        string image = _s.File("image.qcow2");
        Shell.Ok("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, image);
        _s.Mount(image);
        string[] names = Directory.GetFiles(_s.MountPoint).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        Assert.Equal(new[] { "disk", "info.json" }.Concat(parts.Select(p => "p" + p.Number)).Order(StringComparer.Ordinal), names);
        foreach ((int number, long offset, long length) in parts)
        {
            Assert.Equal(length, new FileInfo(_s.In("p" + number)).Length);
            Assert.Equal(Images.SliceMd5(raw, offset, length), Shell.Md5(_s.In("p" + number)));
        }
        _s.Unmount();
    }

    [Fact]
    public void Info_json_is_what_info_output_json_prints()
    {
        string image = _s.File("image.qcow2");
        Shell.Ok("qemu-img", "create", "-f", "qcow2", image, "4M");
        (int code, string expected, string err) = Shell.Vs("info", "--output", "json", image);
        Assert.True(code == 0, err);
        _s.Mount(image);
        Assert.Equal(expected, File.ReadAllText(_s.In("info.json")));
        Assert.Equal(4 << 20, new FileInfo(_s.In("disk")).Length);
        _s.Unmount();
    }

    [Fact]
    public void Another_user_reads_the_mount_only_with_allow_other()
    {
        // As root no user_allow_other is needed in /etc/fuse.conf; "nobody" stands for the other user.
        string src = Images.PatternRaw(_s.File("src.raw"), 2 << 20, seed: 5);
        string image = _s.File("image.vhdx");
        Shell.Ok("qemu-img", "convert", "-f", "raw", "-O", "vhdx", src, image);
        Shell.Ok("chmod", "0755", _s.Dir);
        string[] asNobody = ["--reuid=65534", "--regid=65534", "--clear-groups", "md5sum", _s.In("disk")];
        _s.Mount(image);
        (int code, string o, string e) = Shell.Run("setpriv", asNobody);
        Assert.True(code != 0, $"nobody read a mount made without --allow-other: {o}");
        Assert.Contains("Permission denied", e, StringComparison.Ordinal);
        _s.Unmount();
        _s.Mount("--allow-other", image);
        Assert.Equal(Shell.Md5(src), Shell.Ok("setpriv", asNobody).Split(' ')[0]);
        _s.Unmount();
    }

    [Fact]
    public void Read_only_mounts_refuse_writes()
    {
        string image = _s.File("image.qcow2");
        Shell.Ok("qemu-img", "create", "-f", "qcow2", image, "4M");
        string before = Shell.Md5(image);
        _s.Mount(image);
        Assert.ThrowsAny<IOException>(() => File.OpenWrite(_s.In("disk")).Dispose());
        _s.Unmount();
        Assert.Equal(before, Shell.Md5(image));
    }

    [Fact]
    public void A_fat_partition_in_a_qcow2_image_lists_and_reads_its_files()
    {
        _s.Mount(Images.SampleImage("demo.qcow2"));
        string listing = Shell.Bash($"MTOOLS_SKIP_CHECK=1 mdir -/ -b -i '{_s.In("p1")}' ::/");
        Assert.Contains("::/README.TXT", listing, StringComparison.Ordinal);
        Assert.Contains("::/docs/NUMBERS.TXT", listing, StringComparison.Ordinal);
        string virtio = Shell.Bash($"MTOOLS_SKIP_CHECK=1 mtype -i '{_s.In("p1")}' ::/docs/VIRTIO.TXT");
        Assert.Equal("virtio-blk request header: le32 type, le32 reserved, le64 sector\n", virtio);
        string numbers = Shell.Bash($"MTOOLS_SKIP_CHECK=1 mtype -i '{_s.In("p1")}' ::/docs/NUMBERS.TXT");
        Assert.Equal(string.Concat(Enumerable.Range(1, 2000).Select(i => $"line {i}\n")), numbers);
        _s.Unmount();
    }

    [Fact]
    public void A_fat_partition_in_a_qcow2_image_is_mounted_from_p1_by_the_linux_vfat_driver()
    {
        // This machine's kernel has no vfat, so a Debian kernel under QEMU mounts p1 (our FUSE file, as its
        // virtio disk) with its vfat driver and lists the files with their md5; mtools reads the same files from p1.
        _s.Mount(Images.SampleImage("demo.qcow2"));
        string log = _s.File("fat-console.log");
        var (code, output, error) = Shell.RunWithTimeout(TimeSpan.FromSeconds(300), "bash", Path.Combine(Images.RepoRoot, "tools", "fat-guest.sh"), _s.In("p1"), log);
        string console = File.Exists(log) ? File.ReadAllText(log) : "";
        Assert.True(code == 0, $"fat-guest.sh exit {code}: {output}{error}\n{console}");
        Dictionary<string, (long Size, string Md5)> seen = console.Split('\n')
            .Select(l => l.Trim().Split(' '))
            .Where(f => f.Length == 5 && f[0] == "VSFAT" && f[1] == "FILE")
            .ToDictionary(f => f[2], f => (long.Parse(f[3], System.Globalization.CultureInfo.InvariantCulture), f[4]));
        Assert.Equal(["BIG.BIN", "README.TXT", "docs/NUMBERS.TXT", "docs/VIRTIO.TXT"], seen.Keys.Order(StringComparer.Ordinal));
        foreach ((string name, (long size, string md5)) in seen)
        {
            string copy = _s.File("mcopy-" + name.Replace('/', '-'));
            Shell.Bash($"MTOOLS_SKIP_CHECK=1 mcopy -n -i '{_s.In("p1")}' '::/{name}' '{copy}'");
            Assert.Equal(new FileInfo(copy).Length, size);
            Assert.Equal(Shell.Md5(copy), md5);
        }
        string numbers = _s.File("numbers.expected");
        File.WriteAllText(numbers, string.Concat(Enumerable.Range(1, 2000).Select(i => $"line {i}\n")));
        Assert.Equal(Shell.Md5(numbers), seen["docs/NUMBERS.TXT"].Md5);
        _s.Unmount();
    }

    [Fact]
    public void A_partition_loop_mounts_with_the_kernel_file_system()
    {
        string files = _s.File("files");
        Directory.CreateDirectory(files);
        File.WriteAllText(Path.Combine(files, "hello.txt"), "loop-mounted from p1\n");
        string raw = _s.File("ext4.raw");
        File.WriteAllBytes(raw, new byte[16 << 20]);
        Images.Sfdisk(raw, "label: dos\\nstart=2048, type=83\\n");
        Shell.Ok("mkfs.ext4", "-q", "-F", "-E", "offset=1048576", "-d", files, raw, "15M");
        string image = _s.File("ext4.qcow2");
        Shell.Ok("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, image);
        _s.Mount(image);
        string loop = _s.File("loop");
        Directory.CreateDirectory(loop);
        Shell.Ok("mount", "-o", "loop,ro", _s.In("p1"), loop);
        try
        {
            Assert.Equal("loop-mounted from p1\n", File.ReadAllText(Path.Combine(loop, "hello.txt")));
        }
        finally
        {
            Shell.Ok("umount", loop);
        }
        _s.Unmount();
    }
}
