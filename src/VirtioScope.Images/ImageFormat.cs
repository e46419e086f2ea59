namespace VirtioScope.Images;

/// <summary>Disk image formats the library can detect and open.</summary>
public enum ImageFormat
{
    /// <summary>Not yet known: detect from the file's magic.</summary>
    Auto,

    /// <summary>A plain byte-for-byte image.</summary>
    Raw,

    /// <summary>QEMU copy-on-write version 2 or 3.</summary>
    Qcow2,

    /// <summary>Hyper-V VHDX (read and write, log replay).</summary>
    Vhdx,

    /// <summary>Virtual PC / Azure VHD (read and write).</summary>
    Vpc,

    /// <summary>VMware VMDK (read-only).</summary>
    Vmdk,
}

/// <summary>Names as qemu-img spells them.</summary>
public static class ImageFormatNames
{
    /// <summary>The qemu-img name of a format, e.g. "qcow2".</summary>
    public static string ToName(this ImageFormat format) => format switch
    {
        ImageFormat.Raw => "raw",
        ImageFormat.Qcow2 => "qcow2",
        ImageFormat.Vhdx => "vhdx",
        ImageFormat.Vpc => "vpc",
        ImageFormat.Vmdk => "vmdk",
        _ => "auto",
    };

    /// <summary>Parses a qemu-img format name; null or empty means <see cref="ImageFormat.Auto"/>.</summary>
    /// <exception cref="ImageException">The name is not a known format.</exception>
    public static ImageFormat Parse(string? name) => name?.ToUpperInvariant() switch
    {
        null or "" => ImageFormat.Auto,
        "RAW" => ImageFormat.Raw,
        "QCOW2" => ImageFormat.Qcow2,
        "VHDX" => ImageFormat.Vhdx,
        "VPC" => ImageFormat.Vpc,
        "VMDK" => ImageFormat.Vmdk,
        _ => throw new ImageException(ImageErrorKind.UnsupportedFormat, null, null, $"unknown format '{name}'"),
    };
}
