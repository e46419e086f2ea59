namespace VirtioScope.Fuse;

/// <summary>
/// A file system served through libfuse3's high-level API. Paths are UTF-8 without the terminating NUL, starting
/// with '/'. Every callback returns 0 (or a byte count) on success and a negative errno on failure; an exception
/// thrown by a callback is logged and answered with -EIO. Callbacks run concurrently on libfuse's worker threads.
/// </summary>
public interface IFuseFileSystem
{
    /// <summary>Fills <paramref name="stat"/> for <paramref name="path"/>.</summary>
    int GetAttr(ReadOnlySpan<byte> path, ref FileStat stat, FuseFileInfo info);

    /// <summary>Lists a directory through <paramref name="filler"/> (including "." and "..").</summary>
    int ReadDir(ReadOnlySpan<byte> path, DirectoryFiller filler);

    /// <summary>Opens a file; may set <see cref="FuseFileInfo.Handle"/> and the caching bits.</summary>
    int Open(ReadOnlySpan<byte> path, FuseFileInfo info);

    /// <summary>Reads up to <paramref name="buffer"/>'s length at <paramref name="offset"/>; returns the byte count (0 at end of file).</summary>
    int Read(ReadOnlySpan<byte> path, Span<byte> buffer, long offset, FuseFileInfo info);

    /// <summary>Writes <paramref name="buffer"/> at <paramref name="offset"/>; returns the byte count.</summary>
    int Write(ReadOnlySpan<byte> path, ReadOnlySpan<byte> buffer, long offset, FuseFileInfo info);

    /// <summary>Changes a file's size.</summary>
    int Truncate(ReadOnlySpan<byte> path, long length, FuseFileInfo info);

    /// <summary>Called on each close(2) of an open file.</summary>
    int Flush(ReadOnlySpan<byte> path, FuseFileInfo info);

    /// <summary>Called when the last reference to an open file goes.</summary>
    int Release(ReadOnlySpan<byte> path, FuseFileInfo info);

    /// <summary>Makes a file's data (and, unless <paramref name="dataOnly"/>, metadata) durable.</summary>
    int Fsync(ReadOnlySpan<byte> path, bool dataOnly, FuseFileInfo info);

    /// <summary>Reports file-system statistics.</summary>
    int StatFs(ReadOnlySpan<byte> path, ref FileSystemStat stat);

    /// <summary>Creates a directory.</summary>
    int Mkdir(ReadOnlySpan<byte> path, uint mode);

    /// <summary>Removes a file.</summary>
    int Unlink(ReadOnlySpan<byte> path);
}
