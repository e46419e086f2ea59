namespace VirtioScope.Fuse.Native;

/// <summary>
/// Slot indices of <c>struct fuse_operations</c> (libfuse 3.14, 42 pointers, 336 bytes), checked with offsetof
/// against Debian's libfuse3-dev headers.
/// </summary>
internal static class OperationSlots
{
    public const int Count = 42;
    public const int GetAttr = 0;
    public const int Mkdir = 3;
    public const int Unlink = 4;
    public const int Truncate = 11;
    public const int Open = 12;
    public const int Read = 13;
    public const int Write = 14;
    public const int StatFs = 15;
    public const int Flush = 16;
    public const int Release = 17;
    public const int Fsync = 18;
    public const int ReadDir = 24;
    public const int Init = 27;
}

/// <summary>Offsets in <c>struct fuse_file_info</c> (40 bytes).</summary>
internal static class FileInfoLayout
{
    public const int Flags = 0;
    public const int BitFields = 4;
    public const uint DirectIoBit = 1u << 1;
    public const uint KeepCacheBit = 1u << 2;
    public const int Handle = 16;
}

/// <summary>Offsets in the x86-64 glibc <c>struct stat</c> (144 bytes).</summary>
internal static class StatLayout
{
    public const int Size = 144;
    public const int Ino = 8;
    public const int Nlink = 16;
    public const int Mode = 24;
    public const int Uid = 28;
    public const int Gid = 32;
    public const int FileSize = 48;
    public const int BlockSize = 56;
    public const int Blocks = 64;
    public const int AccessTime = 72;
    public const int ModifyTime = 88;
    public const int ChangeTime = 104;
}

/// <summary>Offsets in <c>struct statvfs</c> (112 bytes).</summary>
internal static class StatVfsLayout
{
    public const int Size = 112;
    public const int BlockSize = 0;
    public const int FragmentSize = 8;
    public const int Blocks = 16;
    public const int BlocksFree = 24;
    public const int BlocksAvailable = 32;
    public const int NameMax = 80;
}

/// <summary>Offsets in <c>struct fuse_context</c>.</summary>
internal static class ContextLayout
{
    public const int PrivateData = 24;
}

/// <summary>Offsets in <c>struct fuse_conn_info</c>.</summary>
internal static class ConnInfoLayout
{
    public const int MaxWrite = 8;
    public const int MaxRead = 12;
    public const int MaxReadahead = 16;
    public const int Capable = 20;
    public const int Want = 24;
    public const int MaxBackground = 28;
}

/// <summary>Offsets in <c>struct fuse_config</c>.</summary>
internal static class ConfigLayout
{
    public const int EntryTimeout = 24;
    public const int NegativeTimeout = 32;
    public const int AttrTimeout = 40;
    public const int UseIno = 64;
    public const int DirectIo = 72;
    public const int KernelCache = 76;
    public const int AutoCache = 80;
}
