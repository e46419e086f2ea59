namespace VirtioScope.Block;

/// <summary>What a backend can do beyond read and write.</summary>
[Flags]
public enum BlockCapabilities
{
    /// <summary>Read and write only.</summary>
    None = 0,

    /// <summary>Flush makes earlier writes durable (otherwise it is a no-op, as for memory).</summary>
    Flush = 1,

    /// <summary>Discard can release storage (otherwise discard is accepted and ignored, as the spec allows).</summary>
    Discard = 2,

    /// <summary>Write-zeroes is efficient (otherwise it is done by writing zero buffers).</summary>
    WriteZeroes = 4,

    /// <summary>
    /// Every call costs at least a system call: the device moves a request of many small segments (a guest's
    /// scattered 4 KiB pages) in one call through a bounce buffer instead of one call per segment.
    /// </summary>
    CoalesceSegments = 8,
}

/// <summary>How a write-zeroes request may be carried out.</summary>
public enum ZeroingMode
{
    /// <summary>The range must read back as zero and stay allocated.</summary>
    KeepAllocated,

    /// <summary>The range must read back as zero; storage may be released.</summary>
    MayUnmap,
}

/// <summary>
/// Storage behind a block device: the counterpart of the seed crate's <c>BlockBackend</c> (read, write, flush), with
/// discard, write-zeroes, size, read-only and capabilities. Offsets and lengths are in bytes; the device has already
/// checked every range against <see cref="Size"/>. Failures are reported as <see cref="IOException"/>, which the
/// device turns into VIRTIO_BLK_S_IOERR.
/// </summary>
public interface IBlockBackend : IDisposable
{
    /// <summary>Size of the medium in bytes.</summary>
    long Size { get; }

    /// <summary>Whether writes are refused.</summary>
    bool IsReadOnly { get; }

    /// <summary>Optional abilities.</summary>
    BlockCapabilities Capabilities { get; }

    /// <summary>Fills <paramref name="destination"/> from <paramref name="offset"/>.</summary>
    void Read(long offset, Span<byte> destination);

    /// <summary>Writes <paramref name="source"/> at <paramref name="offset"/>.</summary>
    void Write(long offset, ReadOnlySpan<byte> source);

    /// <summary>Makes completed writes durable.</summary>
    void Flush();

    /// <summary>Hints that a range is no longer needed; its contents become unspecified.</summary>
    void Discard(long offset, long length);

    /// <summary>Makes a range read back as zeroes.</summary>
    void WriteZeroes(long offset, long length, ZeroingMode mode);
}
