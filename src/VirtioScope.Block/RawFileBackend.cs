using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace VirtioScope.Block;

/// <summary>Options for opening a raw file as a block backend.</summary>
public sealed record RawFileOptions
{
    /// <summary>Open read-only.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Bypass the page cache (O_DIRECT); unaligned transfers go through an aligned bounce buffer.</summary>
    public bool Direct { get; init; }
}

/// <summary>A raw image file as a block backend, with positional I/O through <see cref="RandomAccess"/>.</summary>
public sealed unsafe class RawFileBackend : IBlockBackend
{
    private const int DirectAlignment = 4096;
    private readonly SafeFileHandle _handle;
    private readonly bool _direct;

    private RawFileBackend(SafeFileHandle handle, long size, bool readOnly, bool direct)
    {
        _handle = handle;
        Size = size;
        IsReadOnly = readOnly;
        _direct = direct;
    }

    /// <summary>Opens <paramref name="path"/>. The size is the file's length rounded down to 512 bytes.</summary>
    /// <exception cref="IOException">The file cannot be opened.</exception>
    public static RawFileBackend Open(string path, RawFileOptions? options = null)
    {
        options ??= new RawFileOptions();
        SafeFileHandle handle = options.Direct
            ? LinuxFile.OpenDirect(path, writable: !options.ReadOnly)
            : File.OpenHandle(path, FileMode.Open, options.ReadOnly ? FileAccess.Read : FileAccess.ReadWrite, FileShare.Read);
        long size = RandomAccess.GetLength(handle) & ~(long)(BlkLayout.SectorSize - 1);
        return new RawFileBackend(handle, size, options.ReadOnly, options.Direct);
    }

    /// <inheritdoc />
    public long Size { get; }

    /// <inheritdoc />
    public bool IsReadOnly { get; }

    /// <inheritdoc />
    public BlockCapabilities Capabilities => BlockCapabilities.Flush | BlockCapabilities.Discard | BlockCapabilities.WriteZeroes | BlockCapabilities.CoalesceSegments;

    /// <inheritdoc />
    public void Read(long offset, Span<byte> destination)
    {
        if (_direct && !IsAligned(offset, destination))
        {
            ReadBounced(offset, destination);
            return;
        }
        ReadExactly(offset, destination);
    }

    private void ReadExactly(long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int n = RandomAccess.Read(_handle, destination, offset);
            if (n == 0)
            {
                // Past the end of a file that shrank underneath us: the medium reads as zeroes, like a sparse tail.
                destination.Clear();
                return;
            }
            destination = destination[n..];
            offset += n;
        }
    }

    /// <inheritdoc />
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        ThrowIfReadOnly();
        if (_direct && !IsAligned(offset, source))
        {
            WriteBounced(offset, source);
            return;
        }
        RandomAccess.Write(_handle, source, offset);
    }

    /// <inheritdoc />
    public void Flush()
    {
        if (!IsReadOnly)
        {
            RandomAccess.FlushToDisk(_handle);
        }
    }

    /// <inheritdoc />
    public void Discard(long offset, long length)
    {
        ThrowIfReadOnly();
        // Discard is only a hint: where punching holes is unsupported the data may stay.
        LinuxFile.TryFallocate(_handle, LinuxFile.FallocPunchHole | LinuxFile.FallocKeepSize, offset, length);
    }

    /// <inheritdoc />
    public void WriteZeroes(long offset, long length, ZeroingMode mode)
    {
        ThrowIfReadOnly();
        int fallocMode = mode == ZeroingMode.MayUnmap
            ? LinuxFile.FallocPunchHole | LinuxFile.FallocKeepSize
            : LinuxFile.FallocZeroRange | LinuxFile.FallocKeepSize;
        if (!_direct && LinuxFile.TryFallocate(_handle, fallocMode, offset, length))
        {
            return;
        }
        const int chunk = 1 << 20;
        byte* zeros = (byte*)NativeMemory.AlignedAlloc(chunk, DirectAlignment);
        try
        {
            NativeMemory.Clear(zeros, chunk);
            while (length > 0)
            {
                int n = (int)Math.Min(length, chunk);
                RandomAccess.Write(_handle, new ReadOnlySpan<byte>(zeros, n), offset);
                offset += n;
                length -= n;
            }
        }
        finally
        {
            NativeMemory.AlignedFree(zeros);
        }
    }

    private static bool IsAligned(long offset, ReadOnlySpan<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            return offset % DirectAlignment == 0 && buffer.Length % DirectAlignment == 0 && (nuint)p % DirectAlignment == 0;
        }
    }

    private void ReadBounced(long offset, Span<byte> destination)
    {
        long start = offset & ~(long)(DirectAlignment - 1);
        long end = (offset + destination.Length + DirectAlignment - 1) & ~(long)(DirectAlignment - 1);
        int length = (int)(end - start);
        byte* bounce = (byte*)NativeMemory.AlignedAlloc((nuint)length, DirectAlignment);
        try
        {
            var span = new Span<byte>(bounce, length);
            ReadExactly(start, span);
            span.Slice((int)(offset - start), destination.Length).CopyTo(destination);
        }
        finally
        {
            NativeMemory.AlignedFree(bounce);
        }
    }

    private void WriteBounced(long offset, ReadOnlySpan<byte> source)
    {
        long start = offset & ~(long)(DirectAlignment - 1);
        long end = (offset + source.Length + DirectAlignment - 1) & ~(long)(DirectAlignment - 1);
        int length = (int)(end - start);
        byte* bounce = (byte*)NativeMemory.AlignedAlloc((nuint)length, DirectAlignment);
        try
        {
            var span = new Span<byte>(bounce, length);
            // Read-modify-write the partial sectors at both ends.
            ReadExactly(start, span);
            source.CopyTo(span[(int)(offset - start)..]);
            RandomAccess.Write(_handle, span, start);
        }
        finally
        {
            NativeMemory.AlignedFree(bounce);
        }
    }

    private void ThrowIfReadOnly()
    {
        if (IsReadOnly)
        {
            throw new IOException("write to a read-only file");
        }
    }

    /// <inheritdoc />
    public void Dispose() => _handle.Dispose();
}
