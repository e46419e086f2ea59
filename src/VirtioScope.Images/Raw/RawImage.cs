using Microsoft.Win32.SafeHandles;
using VirtioScope.Block;

namespace VirtioScope.Images.Raw;

/// <summary>A raw image: the virtual disk is the file. Holes are reported through SEEK_DATA/SEEK_HOLE.</summary>
public sealed class RawImage : IDiskImage, IResizableImage, IImageDetails
{
    private readonly SafeFileHandle _handle;
    private long _size;
    private CacheMode _cache;

    private RawImage(string path, SafeFileHandle handle, bool readOnly)
    {
        FilePath = path;
        _handle = handle;
        IsReadOnly = readOnly;
        _size = RandomAccess.GetLength(handle);
    }

    /// <summary>Opens an existing raw file.</summary>
    public static RawImage Open(string path, bool readOnly, CacheMode cache = CacheMode.Writeback)
    {
        var handle = File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite, FileShare.ReadWrite);
        return new RawImage(path, handle, readOnly) { _cache = cache };
    }

    /// <summary>Creates (or truncates) a raw file of <paramref name="size"/> bytes with the given preallocation.</summary>
    public static RawImage Create(string path, long size, Preallocation preallocation, CacheMode cache = CacheMode.Writeback)
    {
        // Truncating sets ext4's replace-via-truncate flag (auto_da_alloc), which makes the *close* of that handle start
        // write-back of everything written through it: about 0.45 s per GiB at the end of a convert. So the file is
        // truncated and sized through a handle closed at once, as qemu-img does, and written through a fresh one.
        using (SafeFileHandle created = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            RandomAccess.SetLength(created, size);
        }
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        var image = new RawImage(path, handle, readOnly: false) { _cache = cache };
        image.Preallocate(0, size, preallocation);
        return image;
    }

    private void Preallocate(long offset, long length, Preallocation preallocation)
    {
        if (preallocation == Preallocation.Falloc)
        {
            HostFile.TryFallocate(_handle, 0, offset, length);
        }
        else if (preallocation == Preallocation.Full)
        {
            byte[] zeros = new byte[1 << 20];
            for (long done = 0; done < length; done += zeros.Length)
            {
                int n = (int)Math.Min(zeros.Length, length - done);
                RandomAccess.Write(_handle, zeros.AsSpan(0, n), offset + done);
            }
        }
    }

    /// <inheritdoc />
    public string FilePath { get; }

    /// <inheritdoc />
    public ImageFormat Format => ImageFormat.Raw;

    /// <inheritdoc />
    public long VirtualSize => Volatile.Read(ref _size);

    /// <inheritdoc />
    public bool IsReadOnly { get; }

    /// <inheritdoc />
    public IDiskImage? Backing => null;

    /// <inheritdoc />
    public long ActualSize => HostFile.AllocatedBytes(FilePath);

    /// <inheritdoc />
    public int? ClusterSize => null;

    /// <inheritdoc />
    public bool? DirtyFlag => null;

    /// <inheritdoc />
    public string? BackingFileName => null;

    /// <inheritdoc />
    public string? FullBackingFileName => null;

    /// <inheritdoc />
    public string? BackingFormat => null;

    /// <inheritdoc />
    public IReadOnlyList<KeyValuePair<string, object>> FormatSpecific => [];

    /// <inheritdoc />
    public void Read(long offset, Span<byte> destination)
    {
        CheckRange(offset, destination.Length);
        HostFile.ReadFull(_handle, destination, offset);
    }

    /// <inheritdoc />
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        ThrowIfReadOnly();
        CheckRange(offset, source.Length);
        RandomAccess.Write(_handle, source, offset);
    }

    /// <inheritdoc />
    public void Flush()
    {
        if (!IsReadOnly && _cache == CacheMode.Writeback)
        {
            RandomAccess.FlushToDisk(_handle);
        }
    }

    /// <inheritdoc />
    public void Discard(long offset, long length)
    {
        ThrowIfReadOnly();
        CheckRange(offset, length);
        // Discard is a hint: where punching holes is unsupported the data simply stays.
        HostFile.TryFallocate(_handle, HostFile.FallocPunchHole | HostFile.FallocKeepSize, offset, length);
    }

    /// <inheritdoc />
    public void WriteZeroes(long offset, long length, ZeroingMode mode)
    {
        ThrowIfReadOnly();
        CheckRange(offset, length);
        int fallocMode = mode == ZeroingMode.MayUnmap
            ? HostFile.FallocPunchHole | HostFile.FallocKeepSize
            : HostFile.FallocZeroRange | HostFile.FallocKeepSize;
        if (HostFile.TryFallocate(_handle, fallocMode, offset, length))
        {
            return;
        }
        byte[] zeros = new byte[(int)Math.Min(length, 1 << 20)];
        for (long done = 0; done < length; done += zeros.Length)
        {
            int n = (int)Math.Min(zeros.Length, length - done);
            RandomAccess.Write(_handle, zeros.AsSpan(0, n), offset + done);
        }
    }

    /// <inheritdoc />
    public ImageExtent GetExtent(long offset, long length)
    {
        CheckRange(offset, length);
        long end = offset + length;
        long? data = HostFile.SeekDataFrom(_handle, offset);
        if (data is null)
        {
            return new ImageExtent(offset, length, ExtentKind.Data, FilePath, offset);
        }
        if (data.Value == offset)
        {
            long hole = HostFile.SeekHoleFrom(_handle, offset) ?? end;
            long stop = Math.Min(end, hole < 0 ? end : hole);
            return new ImageExtent(offset, Math.Max(1, stop - offset), ExtentKind.Data, FilePath, offset);
        }
        long zeroEnd = data.Value < 0 ? end : Math.Min(end, data.Value);
        return new ImageExtent(offset, zeroEnd - offset, ExtentKind.Zero, FilePath, offset);
    }

    /// <inheritdoc />
    public void Resize(long newSize, ResizeMode mode)
    {
        ThrowIfReadOnly();
        if (newSize < 0)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, FilePath, "size", "new size must not be negative");
        }
        if (newSize < VirtualSize && mode != ResizeMode.AllowShrink)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, FilePath, "size", "shrinking requires --shrink");
        }
        RandomAccess.SetLength(_handle, newSize);
        Volatile.Write(ref _size, newSize);
    }

    private void CheckRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset > VirtualSize - length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"range {offset}+{length} is outside the {VirtualSize}-byte disk");
        }
    }

    private void ThrowIfReadOnly()
    {
        if (IsReadOnly)
        {
            throw new ImageException(ImageErrorKind.ReadOnly, FilePath, null, "image is opened read-only");
        }
    }

    /// <inheritdoc />
    public void Dispose() => _handle.Dispose();
}
