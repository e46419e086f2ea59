using VirtioScope.Block;
using VirtioScope.Images;

namespace VirtioScope.Cli.Run;

/// <summary>Opens an image file as the device's backend.</summary>
internal static class BackendFactory
{
    /// <summary>Detects the format by its magic (qcow2, raw, ...) like qemu-img, and adapts the image to the device.</summary>
    public static IBlockBackend Open(string path, bool readOnly) =>
        new ImageBlockBackend(DiskImage.Open(path, new ImageOpenOptions { ReadOnly = readOnly }));
}
