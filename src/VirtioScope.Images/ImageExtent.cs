namespace VirtioScope.Images;

/// <summary>How a range of the virtual disk is stored.</summary>
public enum ExtentKind
{
    /// <summary>Data stored in this layer.</summary>
    Data,

    /// <summary>Reads as zeroes, decided by this layer (zero flag, or a hole in a raw file).</summary>
    Zero,

    /// <summary>Not allocated in this layer: reads go to the backing file, or zero without one.</summary>
    Unallocated,
}

/// <summary>
/// One answer to an allocation query: a run of the virtual disk with one status.
/// <see cref="HostOffset"/> is where the data lives in <see cref="HostFile"/> (-1 when not addressable, e.g. compressed).
/// </summary>
public readonly record struct ImageExtent(long Offset, long Length, ExtentKind Kind, string? HostFile, long HostOffset)
{
    /// <summary>Whether the run is stored compressed (no addressable host offset).</summary>
    public bool Compressed { get; init; }
}
