using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VirtioScope.Fuse.Native;

/// <summary>
/// The native callbacks placed in <c>struct fuse_operations</c>. Each finds its <see cref="FuseMount"/> through
/// <c>fuse_get_context()->private_data</c> (a GCHandle), calls the managed file system and turns any exception
/// into a logged -EIO: nothing is ever thrown into libfuse.
/// </summary>
internal static unsafe class Dispatcher
{
    /// <summary>Allocates and fills the operations table (freed by the caller with NativeMemory.Free).</summary>
    public static nint CreateOperations()
    {
        var ops = (nint*)NativeMemory.AllocZeroed((nuint)(OperationSlots.Count * sizeof(nint)));
        ops[OperationSlots.GetAttr] = (nint)(delegate* unmanaged<byte*, byte*, nint, int>)&GetAttr;
        ops[OperationSlots.Mkdir] = (nint)(delegate* unmanaged<byte*, uint, int>)&Mkdir;
        ops[OperationSlots.Unlink] = (nint)(delegate* unmanaged<byte*, int>)&Unlink;
        ops[OperationSlots.Truncate] = (nint)(delegate* unmanaged<byte*, long, nint, int>)&Truncate;
        ops[OperationSlots.Open] = (nint)(delegate* unmanaged<byte*, nint, int>)&Open;
        ops[OperationSlots.Read] = (nint)(delegate* unmanaged<byte*, byte*, nuint, long, nint, int>)&Read;
        ops[OperationSlots.Write] = (nint)(delegate* unmanaged<byte*, byte*, nuint, long, nint, int>)&Write;
        ops[OperationSlots.StatFs] = (nint)(delegate* unmanaged<byte*, byte*, int>)&StatFs;
        ops[OperationSlots.Flush] = (nint)(delegate* unmanaged<byte*, nint, int>)&Flush;
        ops[OperationSlots.Release] = (nint)(delegate* unmanaged<byte*, nint, int>)&Release;
        ops[OperationSlots.Fsync] = (nint)(delegate* unmanaged<byte*, int, nint, int>)&Fsync;
        ops[OperationSlots.ReadDir] = (nint)(delegate* unmanaged<byte*, nint, nint, long, nint, int, int>)&ReadDir;
        ops[OperationSlots.Init] = (nint)(delegate* unmanaged<byte*, byte*, nint>)&Init;
        return (nint)ops;
    }

    private static FuseMount Current()
    {
        nint context = LibFuse.GetContext();
        nint handle = *(nint*)(context + ContextLayout.PrivateData);
        return (FuseMount)GCHandle.FromIntPtr(handle).Target!;
    }

    private static ReadOnlySpan<byte> PathOf(byte* path) => path == null ? [] : MemoryMarshal.CreateReadOnlySpanFromNullTerminated(path);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Fail(string operation, byte* path, Exception e)
    {
        Current().ReportException(operation, path == null ? "" : System.Text.Encoding.UTF8.GetString(PathOf(path)), e);
        return -Errno.EIO;
    }

    [UnmanagedCallersOnly]
    private static nint Init(byte* conn, byte* config)
    {
        nint context = LibFuse.GetContext();
        nint handle = *(nint*)(context + ContextLayout.PrivateData);
        try
        {
            ((FuseMount)GCHandle.FromIntPtr(handle).Target!).Configure(conn, config);
        }
        catch (Exception e)
        {
            Fail("init", null, e);
        }
        return handle;
    }

    [UnmanagedCallersOnly]
    private static int GetAttr(byte* path, byte* stat, nint fi)
    {
        try
        {
            new Span<byte>(stat, StatLayout.Size).Clear();
            var s = default(FileStat);
            int r = Current().FileSystem.GetAttr(PathOf(path), ref s, new FuseFileInfo(fi));
            if (r == 0)
            {
                *(uint*)(stat + StatLayout.Mode) = s.Mode;
                *(ulong*)(stat + StatLayout.Nlink) = s.LinkCount;
                *(uint*)(stat + StatLayout.Uid) = s.Uid;
                *(uint*)(stat + StatLayout.Gid) = s.Gid;
                *(long*)(stat + StatLayout.FileSize) = s.Size;
                *(long*)(stat + StatLayout.BlockSize) = 4096;
                *(long*)(stat + StatLayout.Blocks) = (s.Size + 511) / 512;
                *(long*)(stat + StatLayout.AccessTime) = s.ModifyTimeSeconds;
                *(long*)(stat + StatLayout.ModifyTime) = s.ModifyTimeSeconds;
                *(long*)(stat + StatLayout.ChangeTime) = s.ModifyTimeSeconds;
            }
            return r;
        }
        catch (Exception e)
        {
            return Fail("getattr", path, e);
        }
    }

    [UnmanagedCallersOnly]
    private static int ReadDir(byte* path, nint buffer, nint filler, long offset, nint fi, int flags)
    {
        try
        {
            return Current().FileSystem.ReadDir(PathOf(path), new DirectoryFiller(buffer, filler));
        }
        catch (Exception e)
        {
            return Fail("readdir", path, e);
        }
    }

    [UnmanagedCallersOnly]
    private static int Open(byte* path, nint fi)
    {
        try
        {
            return Current().FileSystem.Open(PathOf(path), new FuseFileInfo(fi));
        }
        catch (Exception e)
        {
            return Fail("open", path, e);
        }
    }

    [UnmanagedCallersOnly]
    private static int Read(byte* path, byte* buffer, nuint size, long offset, nint fi)
    {
        try
        {
            return Current().FileSystem.Read(PathOf(path), new Span<byte>(buffer, checked((int)size)), offset, new FuseFileInfo(fi));
        }
        catch (Exception e)
        {
            return Fail("read", path, e);
        }
    }

    [UnmanagedCallersOnly]
    private static int Write(byte* path, byte* buffer, nuint size, long offset, nint fi)
    {
        try
        {
            return Current().FileSystem.Write(PathOf(path), new ReadOnlySpan<byte>(buffer, checked((int)size)), offset, new FuseFileInfo(fi));
        }
        catch (Exception e)
        {
            return Fail("write", path, e);
        }
    }

    [UnmanagedCallersOnly]
    private static int Truncate(byte* path, long length, nint fi)
    {
        try
        {
            return Current().FileSystem.Truncate(PathOf(path), length, new FuseFileInfo(fi));
        }
        catch (Exception e)
        {
            return Fail("truncate", path, e);
        }
    }

    [UnmanagedCallersOnly]
    private static int StatFs(byte* path, byte* statvfs)
    {
        try
        {
            var s = default(FileSystemStat);
            int r = Current().FileSystem.StatFs(PathOf(path), ref s);
            if (r == 0)
            {
                new Span<byte>(statvfs, StatVfsLayout.Size).Clear();
                *(ulong*)(statvfs + StatVfsLayout.BlockSize) = s.BlockSize;
                *(ulong*)(statvfs + StatVfsLayout.FragmentSize) = s.BlockSize;
                *(ulong*)(statvfs + StatVfsLayout.Blocks) = s.Blocks;
                *(ulong*)(statvfs + StatVfsLayout.BlocksFree) = s.BlocksFree;
                *(ulong*)(statvfs + StatVfsLayout.BlocksAvailable) = s.BlocksFree;
                *(ulong*)(statvfs + StatVfsLayout.NameMax) = s.NameMax;
            }
            return r;
        }
        catch (Exception e)
        {
            return Fail("statfs", path, e);
        }
    }

    [UnmanagedCallersOnly]
    private static int Flush(byte* path, nint fi)
    {
        try
        {
            return Current().FileSystem.Flush(PathOf(path), new FuseFileInfo(fi));
        }
        catch (Exception e)
        {
            return Fail("flush", path, e);
        }
    }

    [UnmanagedCallersOnly]
    private static int Release(byte* path, nint fi)
    {
        try
        {
            return Current().FileSystem.Release(PathOf(path), new FuseFileInfo(fi));
        }
        catch (Exception e)
        {
            return Fail("release", path, e);
        }
    }

    [UnmanagedCallersOnly]
    private static int Fsync(byte* path, int dataSync, nint fi)
    {
        try
        {
            return Current().FileSystem.Fsync(PathOf(path), dataSync != 0, new FuseFileInfo(fi));
        }
        catch (Exception e)
        {
            return Fail("fsync", path, e);
        }
    }

    [UnmanagedCallersOnly]
    private static int Mkdir(byte* path, uint mode)
    {
        try
        {
            return Current().FileSystem.Mkdir(PathOf(path), mode);
        }
        catch (Exception e)
        {
            return Fail("mkdir", path, e);
        }
    }

    [UnmanagedCallersOnly]
    private static int Unlink(byte* path)
    {
        try
        {
            return Current().FileSystem.Unlink(PathOf(path));
        }
        catch (Exception e)
        {
            return Fail("unlink", path, e);
        }
    }
}
