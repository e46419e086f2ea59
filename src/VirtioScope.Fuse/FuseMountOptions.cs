namespace VirtioScope.Fuse;

/// <summary>How <see cref="FuseMount.Create"/> mounts a file system.</summary>
public sealed record FuseMountOptions
{
    /// <summary>The source shown in /proc/mounts (<c>fsname=</c>).</summary>
    public string FsName { get; init; } = "virtioscope";

    /// <summary>The file-system type suffix (<c>fuse.SUBTYPE</c>).</summary>
    public string Subtype { get; init; } = "virtioscope";

    /// <summary>Let users other than the mounting one see the mount (<c>allow_other</c>).</summary>
    public bool AllowOther { get; init; }

    /// <summary>Mount read-only (<c>ro</c>).</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Further comma-separated FUSE options (<c>-o</c>), passed to libfuse as given.</summary>
    public string? ExtraOptions { get; init; }

    /// <summary>Largest number of worker threads of the multi-threaded loop.</summary>
    public int MaxThreads { get; init; } = 16;

    /// <summary>Seconds the kernel may cache attributes and directory entries.</summary>
    public double AttributeTimeout { get; init; } = 1.0;

    /// <summary>Readahead the kernel may use, in bytes (it caps this at its own limit).</summary>
    public int MaxReadahead { get; init; } = 1 << 20;

    /// <summary>Builds the <c>-o</c> list handed to libfuse.</summary>
    internal string OptionList()
    {
        var parts = new List<string> { "fsname=" + Escape(FsName), "subtype=" + Escape(Subtype) };
        if (AllowOther)
        {
            parts.Add("allow_other");
        }
        if (ReadOnly)
        {
            parts.Add("ro");
        }
        if (!string.IsNullOrEmpty(ExtraOptions))
        {
            parts.Add(ExtraOptions);
        }
        return string.Join(',', parts);
    }

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace(",", "\\,", StringComparison.Ordinal);
}
