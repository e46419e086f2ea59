namespace VirtioScope.Block;

/// <summary>A block backend held in host memory: fast, volatile, the default for benchmarks and tests.</summary>
public sealed class MemoryBackend : IBlockBackend
{
    private readonly byte[] _data;

    /// <summary>Creates a zeroed medium of <paramref name="size"/> bytes (at most 2 GiB, a multiple of 512).</summary>
    public MemoryBackend(long size, bool readOnly = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, Array.MaxLength);
        if (size % BlkLayout.SectorSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), "size must be a multiple of 512 bytes");
        }
        _data = GC.AllocateUninitializedArray<byte>((int)size, pinned: true);
        Array.Clear(_data);
        IsReadOnly = readOnly;
    }

    /// <inheritdoc />
    public long Size => _data.LongLength;

    /// <inheritdoc />
    public bool IsReadOnly { get; }

    /// <inheritdoc />
    public BlockCapabilities Capabilities => BlockCapabilities.Discard | BlockCapabilities.WriteZeroes;

    /// <summary>The medium's bytes, for tests and verification.</summary>
    public Span<byte> Contents => _data;

    /// <inheritdoc />
    public void Read(long offset, Span<byte> destination) => _data.AsSpan(checked((int)offset), destination.Length).CopyTo(destination);

    /// <inheritdoc />
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        if (IsReadOnly)
        {
            throw new IOException("write to a read-only memory backend");
        }
        source.CopyTo(_data.AsSpan(checked((int)offset), source.Length));
    }

    /// <inheritdoc />
    public void Flush()
    {
    }

    /// <inheritdoc />
    public void Discard(long offset, long length) => WriteZeroes(offset, length, ZeroingMode.MayUnmap);

    /// <inheritdoc />
    public void WriteZeroes(long offset, long length, ZeroingMode mode)
    {
        if (IsReadOnly)
        {
            throw new IOException("write to a read-only memory backend");
        }
        _data.AsSpan(checked((int)offset), checked((int)length)).Clear();
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }
}
