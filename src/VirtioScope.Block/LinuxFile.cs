using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace VirtioScope.Block;

/// <summary>
/// The few Linux file calls the BCL does not wrap: fallocate modes and O_DIRECT opens. Public so the image library's
/// raw format uses the same wrappers as the device's raw backend.
/// </summary>
public static partial class LinuxFile
{
    /// <summary>FALLOC_FL_KEEP_SIZE: the file length does not change.</summary>
    public const int FallocKeepSize = 0x01;

    /// <summary>FALLOC_FL_PUNCH_HOLE: deallocate (must be combined with <see cref="FallocKeepSize"/>).</summary>
    public const int FallocPunchHole = 0x02;

    /// <summary>FALLOC_FL_ZERO_RANGE: make the range read as zeroes, keeping it allocated.</summary>
    public const int FallocZeroRange = 0x10;

    private const int ODirect = 0x4000;
    private const int ORdonly = 0;
    private const int ORdwr = 2;
    private const int OCloexec = 0x80000;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fallocate(SafeFileHandle fd, int mode, long offset, long len);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, int mode);

    /// <summary>Runs fallocate; false when the file system does not support the mode (EOPNOTSUPP), IOException otherwise.</summary>
    public static bool TryFallocate(SafeFileHandle handle, int mode, long offset, long length)
    {
        if (!OperatingSystem.IsLinux() || length <= 0)
        {
            return false;
        }
        if (fallocate(handle, mode, offset, length) == 0)
        {
            return true;
        }
        int errno = Marshal.GetLastPInvokeError();
        const int EOPNOTSUPP = 95, ENOSYS = 38, EINVAL = 22;
        if (errno is EOPNOTSUPP or ENOSYS or EINVAL)
        {
            return false;
        }
        throw new IOException($"fallocate failed: {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    /// <summary>Opens a file with O_DIRECT, bypassing the page cache.</summary>
    public static SafeFileHandle OpenDirect(string path, bool writable)
    {
        int fd = open(path, (writable ? ORdwr : ORdonly) | ODirect | OCloexec, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"{path}: cannot open with O_DIRECT: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        return new SafeFileHandle(fd, ownsHandle: true);
    }
}
