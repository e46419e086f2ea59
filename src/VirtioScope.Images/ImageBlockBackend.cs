using VirtioScope.Block;

namespace VirtioScope.Images;

/// <summary>Runs the block device on any disk image: the image library's side of <see cref="IBlockBackend"/>.</summary>
public sealed class ImageBlockBackend : IBlockBackend
{
    private readonly IDiskImage _image;

    /// <summary>Wraps an open image; the backend owns it from now on.</summary>
    public ImageBlockBackend(IDiskImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        _image = image;
    }

    /// <summary>Opens <paramref name="path"/> through <see cref="DiskImage.Open"/> as a backend.</summary>
    public static ImageBlockBackend Open(string path, ImageOpenOptions? options = null) => new(DiskImage.Open(path, options));

    /// <inheritdoc />
    public long Size => _image.VirtualSize;

    /// <inheritdoc />
    public bool IsReadOnly => _image.IsReadOnly;

    /// <inheritdoc />
    public BlockCapabilities Capabilities => BlockCapabilities.Flush | BlockCapabilities.Discard | BlockCapabilities.WriteZeroes | BlockCapabilities.CoalesceSegments;

    /// <inheritdoc />
    public void Read(long offset, Span<byte> destination)
    {
        try
        {
            _image.Read(offset, destination);
        }
        catch (ImageException e)
        {
            throw new IOException(e.Message, e);
        }
    }

    /// <inheritdoc />
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        try
        {
            _image.Write(offset, source);
        }
        catch (ImageException e)
        {
            throw new IOException(e.Message, e);
        }
    }

    /// <inheritdoc />
    public void Flush() => Wrap(_image.Flush);

    /// <inheritdoc />
    public void Discard(long offset, long length) => Wrap(() => _image.Discard(offset, length));

    /// <inheritdoc />
    public void WriteZeroes(long offset, long length, ZeroingMode mode) => Wrap(() => _image.WriteZeroes(offset, length, mode));

    private static void Wrap(Action action)
    {
        try
        {
            action();
        }
        catch (ImageException e)
        {
            throw new IOException(e.Message, e);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _image.Dispose();
}
