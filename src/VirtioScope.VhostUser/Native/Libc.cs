using System.Runtime.InteropServices;

namespace VirtioScope.VhostUser.Native;

/// <summary>The libc calls vhost-user needs and .NET lacks: fd passing, mmap, eventfd and poll (x86-64/arm64 Linux layouts).</summary>
internal static unsafe partial class Libc
{
    public const int SolSocket = 1;
    public const int ScmRights = 1;
    public const int MsgCtrunc = 0x8;
    public const int MsgCmsgCloexec = 0x40000000;
    public const int MsgNoSignal = 0x4000;
    public const int ProtRead = 1;
    public const int ProtWrite = 2;
    public const int MapShared = 1;
    public const int SeekEnd = 2;
    public const int EfdCloexec = 0x80000;
    public const int EfdNonblock = 0x800;
    public const short PollIn = 1;
    public const short PollErr = 8;
    public const short PollHup = 16;
    public const short PollNval = 32;
    public const int Eintr = 4;
    public const int Eagain = 11;
    public static readonly nint MapFailed = -1;

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    /// <summary>sizeof(struct cmsghdr): size_t len, int level, int type.</summary>
    public const int CmsgHeaderSize = 16;

    /// <summary>CMSG_SPACE for <paramref name="fds"/> descriptors.</summary>
    public static int CmsgSpace(int fds) => CmsgHeaderSize + ((fds * sizeof(int) + 7) & ~7);

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint RecvMsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    public static partial nint SendMsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int CloseRaw(int fd);

    /// <summary>Closes a descriptor; its result is of no use (Linux releases the fd even on EINTR).</summary>
    public static void Close(int fd) => _ = CloseRaw(fd);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint address, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint address, nuint length);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    public static partial long Lseek(int fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initial, int flags);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "memfd_create", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int MemfdCreate(string name, uint flags);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int Ftruncate(int fd, long length);

    [LibraryImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    public static partial int SocketPair(int domain, int type, int protocol, int* fds);

    [LibraryImport("libc", EntryPoint = "lstat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Lstat(string path, byte* statBuffer);

    /// <summary>Whether <paramref name="path"/> is a Unix socket (not following links); .NET has no file-type query.</summary>
    public static bool IsSocket(string path)
    {
        byte* buffer = stackalloc byte[256];
        if (Lstat(path, buffer) != 0)
        {
            return false;
        }
        // st_mode follows st_dev, st_ino and (on x86-64 only) a 64-bit st_nlink.
        int modeOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 24 : 16;
        uint mode = *(uint*)(buffer + modeOffset);
        return (mode & 0xF000) == 0xC000;
    }

    /// <summary>Adds 1 to an eventfd counter (a kick or a call). False if the write failed.</summary>
    public static bool Signal(int fd)
    {
        ulong one = 1;
        return Write(fd, &one, sizeof(ulong)) == sizeof(ulong);
    }

    /// <summary>Reads and clears an eventfd counter; 0 when nothing was pending (non-blocking fds) or on error.</summary>
    public static ulong Drain(int fd)
    {
        ulong value = 0;
        return Read(fd, &value, sizeof(ulong)) == sizeof(ulong) ? value : 0;
    }

    /// <summary>The last error as text, for one-line messages.</summary>
    public static string LastError() => Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
}
