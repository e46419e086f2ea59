namespace VirtioScope.Fuse;

/// <summary>What <see cref="IFuseFileSystem.GetAttr"/> reports about a path (the fields of <c>struct stat</c> it sets).</summary>
public struct FileStat
{
    /// <summary>File type and permission bits (for example <c>S_IFREG | 0644</c>).</summary>
    public uint Mode { get; set; }

    /// <summary>Number of hard links.</summary>
    public ulong LinkCount { get; set; }

    /// <summary>Size in bytes.</summary>
    public long Size { get; set; }

    /// <summary>Owner user id.</summary>
    public uint Uid { get; set; }

    /// <summary>Owner group id.</summary>
    public uint Gid { get; set; }

    /// <summary>Modification (and change and access) time in seconds since the epoch.</summary>
    public long ModifyTimeSeconds { get; set; }
}

/// <summary>File-type bits of <c>st_mode</c>.</summary>
public static class FileModes
{
    /// <summary>Directory.</summary>
    public const uint Directory = 0x4000;

    /// <summary>Regular file.</summary>
    public const uint Regular = 0x8000;
}

/// <summary>What <see cref="IFuseFileSystem.StatFs"/> reports (the fields of <c>struct statvfs</c> it sets).</summary>
public struct FileSystemStat
{
    /// <summary>Block size in bytes.</summary>
    public ulong BlockSize { get; set; }

    /// <summary>Total blocks.</summary>
    public ulong Blocks { get; set; }

    /// <summary>Free blocks.</summary>
    public ulong BlocksFree { get; set; }

    /// <summary>Longest file name.</summary>
    public ulong NameMax { get; set; }
}
