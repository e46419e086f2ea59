using VirtioScope.Fuse;
using VirtioScope.Images;
using VirtioScope.Mount.Partitions;

namespace VirtioScope.Mount;

/// <summary>
/// The mounted view of an image: a root directory with <c>disk</c> (the whole virtual disk), <c>p1</c>..<c>pN</c>
/// (its partitions) and <c>info.json</c>. Reads and writes go straight to the image at the file's disk offset, with
/// no lock of their own (the image library is safe for concurrent use). Read-only mounts keep the kernel page cache;
/// writable ones use direct I/O so <c>disk</c> and <c>pN</c> never show each other stale data.
/// </summary>
public sealed class ImageFileSystem : FuseFileSystemBase
{
    private const uint DirectoryMode = FileModes.Directory | 0x1ED; // 0755
    private const uint ReadOnlyFileMode = FileModes.Regular | 0x124; // 0444
    private const uint WritableFileMode = FileModes.Regular | 0x1A4; // 0644
    private const int OpenReadOnly = 0;
    private static readonly byte[] Dot = [(byte)'.', 0];
    private static readonly byte[] DotDot = [(byte)'.', (byte)'.', 0];

    private readonly IDiskImage _image;
    private readonly MountedFile[] _files;
    private readonly bool _writable;
    private readonly long _mountTime = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    private readonly uint _uid = Daemon.UserId;
    private readonly uint _gid = Daemon.GroupId;

    /// <summary>Creates the view of <paramref name="image"/> with its <paramref name="partitions"/> and info document.</summary>
    public ImageFileSystem(IDiskImage image, IReadOnlyList<Partition> partitions, byte[] infoJson)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(partitions);
        _image = image;
        _writable = !image.IsReadOnly;
        var files = new List<MountedFile>
        {
            new("disk", 0, image.VirtualSize, null),
            new("info.json", 0, infoJson.Length, infoJson),
        };
        foreach (Partition p in partitions)
        {
            files.Add(new MountedFile("p" + p.Number.ToString(System.Globalization.CultureInfo.InvariantCulture), p.Offset, p.Length, null));
        }
        _files = [.. files];
    }

    /// <summary>The names of the files in the root directory.</summary>
    public IEnumerable<string> FileNames => _files.Select(f => f.Name);

    private int Find(ReadOnlySpan<byte> path)
    {
        if (path.Length < 2 || path[0] != (byte)'/')
        {
            return -1;
        }
        ReadOnlySpan<byte> name = path[1..];
        for (int i = 0; i < _files.Length; i++)
        {
            if (name.SequenceEqual(_files[i].NameBytes))
            {
                return i;
            }
        }
        return -1;
    }

    private static bool IsRoot(ReadOnlySpan<byte> path) => path.Length == 1 && path[0] == (byte)'/';

    private MountedFile? FileOf(ReadOnlySpan<byte> path, FuseFileInfo info)
    {
        ulong handle = info.Handle;
        if (handle > 0 && handle <= (ulong)_files.Length)
        {
            return _files[(int)handle - 1];
        }
        int i = Find(path);
        return i < 0 ? null : _files[i];
    }

    /// <inheritdoc/>
    public override int GetAttr(ReadOnlySpan<byte> path, ref FileStat stat, FuseFileInfo info)
    {
        stat.Uid = _uid;
        stat.Gid = _gid;
        stat.ModifyTimeSeconds = _mountTime;
        if (IsRoot(path))
        {
            stat.Mode = DirectoryMode;
            stat.LinkCount = 2;
            return 0;
        }
        int i = Find(path);
        if (i < 0)
        {
            return -Errno.ENOENT;
        }
        MountedFile f = _files[i];
        stat.Mode = _writable && f.Content is null ? WritableFileMode : ReadOnlyFileMode;
        stat.LinkCount = 1;
        stat.Size = f.Length;
        return 0;
    }

    /// <inheritdoc/>
    public override int ReadDir(ReadOnlySpan<byte> path, DirectoryFiller filler)
    {
        if (!IsRoot(path))
        {
            return Find(path) < 0 ? -Errno.ENOENT : -Errno.ENOTDIR;
        }
        filler.Add(Dot);
        filler.Add(DotDot);
        foreach (MountedFile f in _files)
        {
            filler.Add(f.NameWithNul);
        }
        return 0;
    }

    /// <inheritdoc/>
    public override int Open(ReadOnlySpan<byte> path, FuseFileInfo info)
    {
        if (IsRoot(path))
        {
            return -Errno.EISDIR;
        }
        int i = Find(path);
        if (i < 0)
        {
            return -Errno.ENOENT;
        }
        if ((info.Flags & 3) != OpenReadOnly)
        {
            if (!_writable)
            {
                return -Errno.EROFS;
            }
            if (_files[i].Content is not null)
            {
                return -Errno.EACCES;
            }
        }
        info.Handle = (ulong)(i + 1);
        if (_writable)
        {
            info.DirectIo = true;
        }
        else
        {
            info.KeepCache = true;
        }
        return 0;
    }

    /// <inheritdoc/>
    public override int Read(ReadOnlySpan<byte> path, Span<byte> buffer, long offset, FuseFileInfo info)
    {
        MountedFile? f = FileOf(path, info);
        if (f is null)
        {
            return -Errno.ENOENT;
        }
        if (offset < 0)
        {
            return -Errno.EINVAL;
        }
        if (offset >= f.Length)
        {
            return 0;
        }
        int count = (int)Math.Min(buffer.Length, f.Length - offset);
        if (f.Content is not null)
        {
            f.Content.AsSpan((int)offset, count).CopyTo(buffer);
        }
        else
        {
            _image.Read(f.DiskOffset + offset, buffer[..count]);
        }
        return count;
    }

    /// <inheritdoc/>
    public override int Write(ReadOnlySpan<byte> path, ReadOnlySpan<byte> buffer, long offset, FuseFileInfo info)
    {
        if (!_writable)
        {
            return -Errno.EROFS;
        }
        MountedFile? f = FileOf(path, info);
        if (f is null)
        {
            return -Errno.ENOENT;
        }
        if (f.Content is not null)
        {
            return -Errno.EACCES;
        }
        if (offset < 0)
        {
            return -Errno.EINVAL;
        }
        if (offset >= f.Length)
        {
            return buffer.IsEmpty ? 0 : -Errno.ENOSPC;
        }
        int count = (int)Math.Min(buffer.Length, f.Length - offset);
        _image.Write(f.DiskOffset + offset, buffer[..count]);
        return count;
    }

    /// <inheritdoc/>
    public override int Truncate(ReadOnlySpan<byte> path, long length, FuseFileInfo info)
    {
        MountedFile? f = FileOf(path, info);
        if (f is null)
        {
            return -Errno.ENOENT;
        }
        if (!_writable)
        {
            return -Errno.EROFS;
        }
        return length == f.Length ? 0 : -Errno.EPERM;
    }

    /// <inheritdoc/>
    public override int Flush(ReadOnlySpan<byte> path, FuseFileInfo info)
    {
        if (_writable && info.IsWriteAccess)
        {
            _image.Flush();
        }
        return 0;
    }

    /// <inheritdoc/>
    public override int Fsync(ReadOnlySpan<byte> path, bool dataOnly, FuseFileInfo info)
    {
        if (_writable)
        {
            _image.Flush();
        }
        return 0;
    }

    /// <inheritdoc/>
    public override int Release(ReadOnlySpan<byte> path, FuseFileInfo info) => 0;

    /// <inheritdoc/>
    public override int StatFs(ReadOnlySpan<byte> path, ref FileSystemStat stat)
    {
        stat.BlockSize = 4096;
        stat.Blocks = (ulong)((_image.VirtualSize + 4095) / 4096);
        stat.BlocksFree = 0;
        stat.NameMax = 255;
        return 0;
    }
}
