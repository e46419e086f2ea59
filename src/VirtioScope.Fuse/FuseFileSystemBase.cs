namespace VirtioScope.Fuse;

/// <summary>A base for file systems: every operation not overridden answers -ENOSYS.</summary>
public abstract class FuseFileSystemBase : IFuseFileSystem
{
    /// <inheritdoc/>
    public virtual int GetAttr(ReadOnlySpan<byte> path, ref FileStat stat, FuseFileInfo info) => -Errno.ENOSYS;

    /// <inheritdoc/>
    public virtual int ReadDir(ReadOnlySpan<byte> path, DirectoryFiller filler) => -Errno.ENOSYS;

    /// <inheritdoc/>
    public virtual int Open(ReadOnlySpan<byte> path, FuseFileInfo info) => -Errno.ENOSYS;

    /// <inheritdoc/>
    public virtual int Read(ReadOnlySpan<byte> path, Span<byte> buffer, long offset, FuseFileInfo info) => -Errno.ENOSYS;

    /// <inheritdoc/>
    public virtual int Write(ReadOnlySpan<byte> path, ReadOnlySpan<byte> buffer, long offset, FuseFileInfo info) => -Errno.ENOSYS;

    /// <inheritdoc/>
    public virtual int Truncate(ReadOnlySpan<byte> path, long length, FuseFileInfo info) => -Errno.ENOSYS;

    /// <inheritdoc/>
    public virtual int Flush(ReadOnlySpan<byte> path, FuseFileInfo info) => -Errno.ENOSYS;

    /// <inheritdoc/>
    public virtual int Release(ReadOnlySpan<byte> path, FuseFileInfo info) => -Errno.ENOSYS;

    /// <inheritdoc/>
    public virtual int Fsync(ReadOnlySpan<byte> path, bool dataOnly, FuseFileInfo info) => -Errno.ENOSYS;

    /// <inheritdoc/>
    public virtual int StatFs(ReadOnlySpan<byte> path, ref FileSystemStat stat) => -Errno.ENOSYS;

    /// <inheritdoc/>
    public virtual int Mkdir(ReadOnlySpan<byte> path, uint mode) => -Errno.ENOSYS;

    /// <inheritdoc/>
    public virtual int Unlink(ReadOnlySpan<byte> path) => -Errno.ENOSYS;
}
