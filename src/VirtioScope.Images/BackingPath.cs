namespace VirtioScope.Images;

/// <summary>QEMU's rules for turning a stored backing file name into a path.</summary>
public static class BackingPath
{
    /// <summary>
    /// Resolves <paramref name="backingName"/> as QEMU does (path_combine): an absolute name stays; a relative one is
    /// taken relative to the directory of <paramref name="imagePath"/> as it was given, not to the current directory.
    /// </summary>
    /// <exception cref="ImageException">The name uses a protocol prefix (json:, nbd: ...), which is unsupported.</exception>
    public static string Resolve(string imagePath, string backingName)
    {
        int colon = backingName.IndexOf(':', StringComparison.Ordinal);
        int slash = backingName.IndexOf('/', StringComparison.Ordinal);
        if (colon > 0 && (slash < 0 || colon < slash))
        {
            string protocol = backingName[..colon];
            if (protocol != "file")
            {
                throw new ImageException(ImageErrorKind.UnsupportedFeature, imagePath, "backing file", $"protocol '{protocol}:' is not supported");
            }
            backingName = backingName[(colon + 1)..];
        }
        if (Path.IsPathRooted(backingName))
        {
            return backingName;
        }
        int lastSlash = imagePath.LastIndexOf('/');
        return lastSlash < 0 ? backingName : imagePath[..(lastSlash + 1)] + backingName;
    }
}
