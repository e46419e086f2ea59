namespace VirtioScope.Images;

/// <summary>What kind of problem an <see cref="ImageException"/> reports.</summary>
public enum ImageErrorKind
{
    /// <summary>A header field or table entry is out of range, unaligned or inconsistent.</summary>
    InvalidField,

    /// <summary>The image uses a feature this library does not implement (named in the message).</summary>
    UnsupportedFeature,

    /// <summary>The format is recognised but not implemented, or unknown where one was required.</summary>
    UnsupportedFormat,

    /// <summary>The image is marked corrupt, or metadata contradicts itself.</summary>
    Corrupt,

    /// <summary>The backing chain is broken: missing file, a loop, or too deep.</summary>
    BackingChain,

    /// <summary>A write was attempted on an image opened read-only.</summary>
    ReadOnly,

    /// <summary>A caller-supplied option is invalid.</summary>
    InvalidOption,
}

/// <summary>
/// The one error type of the image library: a kind, the file at fault and (where there is one) the field at fault.
/// It derives from <see cref="IOException"/> (InvalidDataException is sealed) so I/O-level callers catch it too.
/// </summary>
public sealed class ImageException : IOException
{
    /// <summary>Creates an error with a kind, a file and an optional field.</summary>
    public ImageException(ImageErrorKind kind, string? filePath, string? field, string detail)
        : base(Format(filePath, field, detail))
    {
        Kind = kind;
        FilePath = filePath;
        Field = field;
        Detail = detail;
    }

    /// <summary>Creates an error without context (for serializers).</summary>
    public ImageException() : this(ImageErrorKind.InvalidField, null, null, "invalid image")
    {
    }

    /// <summary>Creates an error with a message only.</summary>
    public ImageException(string message) : this(ImageErrorKind.InvalidField, null, null, message)
    {
    }

    /// <summary>Creates an error with a message and an inner exception.</summary>
    public ImageException(string message, Exception innerException) : base(message, innerException)
    {
        Kind = ImageErrorKind.InvalidField;
        Detail = message;
    }

    /// <summary>What kind of problem this is.</summary>
    public ImageErrorKind Kind { get; }

    /// <summary>The image file at fault, if known.</summary>
    public string? FilePath { get; }

    /// <summary>The header field or table at fault, if any.</summary>
    public string? Field { get; }

    /// <summary>The message without the file and field prefix.</summary>
    public string Detail { get; }

    private static string Format(string? filePath, string? field, string detail)
    {
        string prefix = filePath is null ? string.Empty : filePath + ": ";
        return field is null ? prefix + detail : $"{prefix}{field}: {detail}";
    }
}
