using VirtioScope.Block;

namespace VirtioScope.Cli.Run;

/// <summary>Opens an image file as the device's backend.</summary>
internal static class BackendFactory
{
    public static IBlockBackend Open(string path, bool readOnly) => RawFileBackend.Open(path, new RawFileOptions { ReadOnly = readOnly });
}
