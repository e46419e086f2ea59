using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace VirtioScope.Images.Raw;

/// <summary>Linux file calls the BCL lacks: SEEK_DATA/SEEK_HOLE and the allocated block count (fallocate is Block's <see cref="VirtioScope.Block.LinuxFile"/>).</summary>
internal static partial class HostFile
{
    public const int FallocKeepSize = VirtioScope.Block.LinuxFile.FallocKeepSize;
    public const int FallocPunchHole = VirtioScope.Block.LinuxFile.FallocPunchHole;
    public const int FallocZeroRange = VirtioScope.Block.LinuxFile.FallocZeroRange;
    private const int SeekData = 3;
    private const int SeekHole = 4;
    private const int Enxio = 6;

    [LibraryImport("libc", SetLastError = true)]
    private static partial long lseek(SafeFileHandle fd, long offset, int whence);

    /// <summary>Next offset at or after <paramref name="offset"/> holding data; -1 when only a hole follows; null when unsupported.</summary>
    public static long? SeekDataFrom(SafeFileHandle handle, long offset) => Seek(handle, offset, SeekData);

    /// <summary>Next hole at or after <paramref name="offset"/> (the file end counts as a hole); null when unsupported.</summary>
    public static long? SeekHoleFrom(SafeFileHandle handle, long offset) => Seek(handle, offset, SeekHole);

    private static long? Seek(SafeFileHandle handle, long offset, int whence)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }
        long r = lseek(handle, offset, whence);
        if (r >= 0)
        {
            return r;
        }
        return Marshal.GetLastPInvokeError() == Enxio ? -1 : null;
    }

    /// <summary>Runs fallocate; false when the mode is unsupported here (the device's raw backend shares the wrapper).</summary>
    public static bool TryFallocate(SafeFileHandle handle, int mode, long offset, long length)
        => VirtioScope.Block.LinuxFile.TryFallocate(handle, mode, offset, length);

    /// <summary>Bytes allocated to the file on disk (st_blocks * 512), or the length when unknown.</summary>
    public static long AllocatedBytes(string path)
    {
        if (OperatingSystem.IsLinux() && Stat(path, out long blocks))
        {
            return blocks * 512;
        }
        return new FileInfo(path).Length;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int stat(string path, byte* buf);

    private static unsafe bool Stat(string path, out long blocks)
    {
        // struct stat is 144 bytes on x86_64 and 128 on aarch64; st_blocks sits at offset 64 on both.
        byte* buf = stackalloc byte[256];
        blocks = 0;
        if (stat(path, buf) != 0)
        {
            return false;
        }
        blocks = *(long*)(buf + 64);
        return true;
    }

    /// <summary>Reads exactly the span, zero-filling past the end of the file.</summary>
    public static void ReadFull(SafeFileHandle handle, Span<byte> destination, long offset)
    {
        while (!destination.IsEmpty)
        {
            int n = RandomAccess.Read(handle, destination, offset);
            if (n == 0)
            {
                destination.Clear();
                return;
            }
            destination = destination[n..];
            offset += n;
        }
    }
}
