using VirtioScope.Block;

namespace VirtioScope.Images;

/// <summary>
/// A disk image in any format: a virtual disk of <see cref="VirtualSize"/> bytes addressed at byte offsets, its
/// allocation, and its backing chain. Implementations are safe for concurrent reads; writes may be serialised
/// internally where metadata changes.
/// </summary>
public interface IDiskImage : IDisposable
{
    /// <summary>The path the image was opened from.</summary>
    string FilePath { get; }

    /// <summary>The image's format.</summary>
    ImageFormat Format { get; }

    /// <summary>Size of the virtual disk in bytes.</summary>
    long VirtualSize { get; }

    /// <summary>Whether writes are refused.</summary>
    bool IsReadOnly { get; }

    /// <summary>The image that unallocated ranges read from, if any.</summary>
    IDiskImage? Backing { get; }

    /// <summary>Bytes the image occupies on the host file system (allocated blocks).</summary>
    long ActualSize { get; }

    /// <summary>Fills <paramref name="destination"/> from the virtual disk at <paramref name="offset"/>.</summary>
    void Read(long offset, Span<byte> destination);

    /// <summary>Writes <paramref name="source"/> to the virtual disk at <paramref name="offset"/>.</summary>
    void Write(long offset, ReadOnlySpan<byte> source);

    /// <summary>Makes completed writes and their metadata durable.</summary>
    void Flush();

    /// <summary>Releases a range; its contents become unspecified (reads may then see the backing file or zeroes).</summary>
    void Discard(long offset, long length);

    /// <summary>Makes a range read back as zeroes.</summary>
    void WriteZeroes(long offset, long length, ZeroingMode mode);

    /// <summary>
    /// Describes this layer's storage at <paramref name="offset"/>: the longest run of one kind, at most
    /// <paramref name="length"/> bytes (and never zero bytes for a positive length).
    /// </summary>
    ImageExtent GetExtent(long offset, long length);
}
