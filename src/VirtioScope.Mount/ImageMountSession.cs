using Serilog;
using VirtioScope.Images;
using VirtioScope.Mount.Partitions;

namespace VirtioScope.Mount;

/// <summary>
/// The image side of a mount: the opened image (or, for <see cref="MountMode.Snapshot"/>, a temporary qcow2 overlay
/// over it), its partitions and the file system that serves them. Disposing flushes and closes the image (which
/// clears a qcow2 image's dirty state) and deletes the overlay.
/// </summary>
public sealed class ImageMountSession : IDisposable
{
    private readonly ILogger _logger;
    private readonly string? _overlayPath;
    private bool _disposed;

    private ImageMountSession(IDiskImage image, string? overlayPath, byte[] infoJson, ILogger logger)
    {
        Image = image;
        _overlayPath = overlayPath;
        _logger = logger;
        Partitions = PartitionTable.Read(image);
        FileSystem = new ImageFileSystem(image, Partitions, infoJson);
    }

    /// <summary>The image the mount reads and writes (the overlay in snapshot mode).</summary>
    public IDiskImage Image { get; }

    /// <summary>The partitions found on the disk.</summary>
    public IReadOnlyList<Partition> Partitions { get; }

    /// <summary>The file system to mount.</summary>
    public ImageFileSystem FileSystem { get; }

    /// <summary>The overlay file of a snapshot mount, or null.</summary>
    public string? OverlayPath => _overlayPath;

    /// <summary>Opens <paramref name="imagePath"/> for <paramref name="mode"/>; <paramref name="infoJson"/> becomes info.json.</summary>
    /// <exception cref="ImageException">The image cannot be used.</exception>
    /// <exception cref="IOException">The image or the overlay cannot be opened or created.</exception>
    public static ImageMountSession Open(string imagePath, ImageFormat format, MountMode mode, byte[] infoJson, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        if (mode != MountMode.Snapshot)
        {
            IDiskImage image = DiskImage.Open(imagePath, new ImageOpenOptions { Format = format, ReadOnly = mode == MountMode.ReadOnly });
            try
            {
                return new ImageMountSession(image, null, infoJson, logger);
            }
            catch
            {
                image.Dispose();
                throw;
            }
        }
        ImageFormat baseFormat;
        using (IDiskImage probe = DiskImage.Open(imagePath, new ImageOpenOptions { Format = format, ReadOnly = true }))
        {
            baseFormat = probe.Format;
        }
        string overlay = Path.Combine(Path.GetTempPath(), $"virtioscope-snapshot-{Guid.NewGuid():N}.qcow2");
        IDiskImage? top = null;
        try
        {
            top = DiskImage.Create(overlay, new ImageCreateOptions
            {
                Format = ImageFormat.Qcow2,
                BackingFile = Path.GetFullPath(imagePath),
                BackingFormat = baseFormat,
            });
            logger.Information("Snapshot overlay {Overlay} over {Image}", overlay, imagePath);
            return new ImageMountSession(top, overlay, infoJson, logger);
        }
        catch
        {
            top?.Dispose();
            File.Delete(overlay);
            throw;
        }
    }

    /// <summary>Flushes and closes the image, and deletes a snapshot overlay.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        try
        {
            Image.Flush();
            Image.Dispose();
            _logger.Information("Closed {Image}", Image.FilePath);
        }
        finally
        {
            if (_overlayPath is not null)
            {
                File.Delete(_overlayPath);
            }
        }
    }
}
