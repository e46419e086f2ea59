using System.Runtime.InteropServices;

namespace VirtioScope.Fuse.Native;

/// <summary>The few libc calls mounting needs: identity, and detaching a daemon from its terminal.</summary>
internal static partial class Posix
{
    [LibraryImport("libc", EntryPoint = "getuid")]
    internal static partial uint GetUid();

    [LibraryImport("libc", EntryPoint = "getgid")]
    internal static partial uint GetGid();

    [LibraryImport("libc", EntryPoint = "setsid", SetLastError = true)]
    internal static partial int SetSid();

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "dup2", SetLastError = true)]
    internal static partial int Dup2(int oldFd, int newFd);

    [LibraryImport("libc", EntryPoint = "close")]
    internal static partial int Close(int fd);
}
