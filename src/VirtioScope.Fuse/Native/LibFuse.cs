using System.Runtime.InteropServices;

namespace VirtioScope.Fuse.Native;

/// <summary>
/// The libfuse3 (high-level API) entry points VirtioScope uses. Versioned symbols are bound by their explicit names:
/// <c>fuse_new_31</c> (FUSE_3.1, the default <c>fuse_new</c>) and <c>fuse_loop_mt_312</c> (FUSE_3.12, opaque config).
/// </summary>
internal static unsafe partial class LibFuse
{
    private const string Library = "libfuse3.so.3";

    [LibraryImport(Library, EntryPoint = "fuse_new_31")]
    internal static partial nint New(FuseArgs* args, nint operations, nuint operationsSize, nint userData);

    [LibraryImport(Library, EntryPoint = "fuse_mount", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Mount(nint fuse, string mountpoint);

    [LibraryImport(Library, EntryPoint = "fuse_unmount")]
    internal static partial void Unmount(nint fuse);

    [LibraryImport(Library, EntryPoint = "fuse_destroy")]
    internal static partial void Destroy(nint fuse);

    [LibraryImport(Library, EntryPoint = "fuse_exit")]
    internal static partial void Exit(nint fuse);

    [LibraryImport(Library, EntryPoint = "fuse_get_context")]
    internal static partial nint GetContext();

    [LibraryImport(Library, EntryPoint = "fuse_loop_mt_312")]
    internal static partial int LoopMultiThreaded(nint fuse, nint config);

    [LibraryImport(Library, EntryPoint = "fuse_loop_cfg_create")]
    internal static partial nint LoopConfigCreate();

    [LibraryImport(Library, EntryPoint = "fuse_loop_cfg_destroy")]
    internal static partial void LoopConfigDestroy(nint config);

    [LibraryImport(Library, EntryPoint = "fuse_loop_cfg_set_max_threads")]
    internal static partial void LoopConfigSetMaxThreads(nint config, uint maxThreads);

    [LibraryImport(Library, EntryPoint = "fuse_loop_cfg_set_idle_threads")]
    internal static partial void LoopConfigSetIdleThreads(nint config, uint idleThreads);

    [LibraryImport(Library, EntryPoint = "fuse_loop_cfg_set_clone_fd")]
    internal static partial void LoopConfigSetCloneFd(nint config, uint value);
}

/// <summary><c>struct fuse_args</c> (24 bytes on x86-64: argc at 0, argv at 8, allocated at 16).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct FuseArgs
{
    /// <summary>Argument count.</summary>
    public int Argc;

    /// <summary>NULL-terminated argument vector.</summary>
    public byte** Argv;

    /// <summary>Whether libfuse allocated argv (must be 0 when we own it).</summary>
    public int Allocated;
}
