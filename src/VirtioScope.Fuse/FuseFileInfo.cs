using VirtioScope.Fuse.Native;

namespace VirtioScope.Fuse;

/// <summary>A view of libfuse's <c>struct fuse_file_info</c> for the duration of one callback.</summary>
public readonly unsafe ref struct FuseFileInfo
{
    private readonly byte* _native;

    internal FuseFileInfo(nint native) => _native = (byte*)native;

    /// <summary>Whether libfuse passed a file info (it does not for path-only calls such as a getattr by path).</summary>
    public bool IsPresent => _native != null;

    /// <summary>The open flags (O_RDONLY, O_WRONLY, O_RDWR in the low two bits, and the rest).</summary>
    public int Flags => _native == null ? 0 : *(int*)(_native + FileInfoLayout.Flags);

    /// <summary>Whether the file was opened for writing (O_WRONLY or O_RDWR).</summary>
    public bool IsWriteAccess => (Flags & 3) != 0;

    /// <summary>The file handle set by <see cref="IFuseFileSystem.Open"/>.</summary>
    public ulong Handle
    {
        get => _native == null ? 0 : *(ulong*)(_native + FileInfoLayout.Handle);
        set
        {
            if (_native != null)
            {
                *(ulong*)(_native + FileInfoLayout.Handle) = value;
            }
        }
    }

    /// <summary>Bypass the kernel page cache for this open file (reads and writes arrive as issued, up to 1 MiB).</summary>
    public bool DirectIo
    {
        get => GetBit(FileInfoLayout.DirectIoBit);
        set => SetBit(FileInfoLayout.DirectIoBit, value);
    }

    /// <summary>Keep the kernel's cached pages from earlier opens of the file.</summary>
    public bool KeepCache
    {
        get => GetBit(FileInfoLayout.KeepCacheBit);
        set => SetBit(FileInfoLayout.KeepCacheBit, value);
    }

    private bool GetBit(uint bit) => _native != null && (*(uint*)(_native + FileInfoLayout.BitFields) & bit) != 0;

    private void SetBit(uint bit, bool value)
    {
        if (_native == null)
        {
            return;
        }
        uint* word = (uint*)(_native + FileInfoLayout.BitFields);
        *word = value ? *word | bit : *word & ~bit;
    }
}
