namespace VirtioScope.Fuse;

/// <summary>Linux errno values that file-system callbacks return negated.</summary>
public static class Errno
{
    /// <summary>Operation not permitted.</summary>
    public const int EPERM = 1;

    /// <summary>No such file or directory.</summary>
    public const int ENOENT = 2;

    /// <summary>I/O error.</summary>
    public const int EIO = 5;

    /// <summary>Bad file descriptor.</summary>
    public const int EBADF = 9;

    /// <summary>Permission denied.</summary>
    public const int EACCES = 13;

    /// <summary>Is a directory.</summary>
    public const int EISDIR = 21;

    /// <summary>Invalid argument.</summary>
    public const int EINVAL = 22;

    /// <summary>File too large.</summary>
    public const int EFBIG = 27;

    /// <summary>No space left on device.</summary>
    public const int ENOSPC = 28;

    /// <summary>Read-only file system.</summary>
    public const int EROFS = 30;

    /// <summary>Function not implemented.</summary>
    public const int ENOSYS = 38;

    /// <summary>Not a directory.</summary>
    public const int ENOTDIR = 20;
}
