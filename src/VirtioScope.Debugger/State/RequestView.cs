namespace VirtioScope.Debugger;

/// <summary>One descriptor of a request's chain, with the start of its buffer.</summary>
/// <param name="Index">Position in the chain.</param>
/// <param name="Address">Buffer address.</param>
/// <param name="Length">Buffer length.</param>
/// <param name="Flags">NEXT, WRITE, INDIRECT by name.</param>
/// <param name="Next">Index of the next descriptor in the chain, or null for the last.</param>
/// <param name="Hex">Hex dump of the buffer's first bytes as guest memory holds them now.</param>
public sealed record DescriptorRow(int Index, ulong Address, uint Length, string Flags, int? Next, IReadOnlyList<string> Hex);

/// <summary>A request's chain and decoded virtio-blk request.</summary>
public sealed record RequestView
{
    /// <summary>Queue.</summary>
    public required int Queue { get; init; }

    /// <summary>Chain head id.</summary>
    public required int Id { get; init; }

    /// <summary>Request type (in, out, flush, ...), or "unparsed".</summary>
    public required string Type { get; init; }

    /// <summary>Header sector.</summary>
    public required ulong Sector { get; init; }

    /// <summary>Data bytes.</summary>
    public required uint DataBytes { get; init; }

    /// <summary>Data segments.</summary>
    public required int Segments { get; init; }

    /// <summary>Chain problem, if any.</summary>
    public required string ChainError { get; init; }

    /// <summary>Why the device refused the request, if it did.</summary>
    public string? Rejection { get; init; }

    /// <summary>Completion status by name, or "in flight".</summary>
    public required string Status { get; init; }

    /// <summary>Used length, once completed.</summary>
    public uint? UsedLength { get; init; }

    /// <summary>Access during which the device popped the chain.</summary>
    public required long PoppedAt { get; init; }

    /// <summary>Access during which it completed.</summary>
    public long? CompletedAt { get; init; }

    /// <summary>The chain.</summary>
    public required IReadOnlyList<DescriptorRow> Descriptors { get; init; }
}

/// <summary>Where a run of a request's sectors lives in the image.</summary>
/// <param name="Sector">First sector of the run.</param>
/// <param name="Sectors">Sectors in the run.</param>
/// <param name="Where">data at host offset, zero, unallocated, backing file at depth N, or session overlay.</param>
public sealed record SectorLocation(ulong Sector, ulong Sectors, string Where);

/// <summary>The backend: format, size, protection, and where the selected request's sectors live.</summary>
public sealed record BackendView
{
    /// <summary>raw, qcow2, or memory.</summary>
    public required string Format { get; init; }

    /// <summary>Image path, or null for memory.</summary>
    public string? Path { get; init; }

    /// <summary>Virtual size in bytes.</summary>
    public required long VirtualSize { get; init; }

    /// <summary>How writes are handled: overlay (image protected), image (--rw), memory.</summary>
    public required string Writes { get; init; }

    /// <summary>4 KiB chunks held in the overlay.</summary>
    public required int OverlayChunks { get; init; }

    /// <summary>The request the locations belong to, if any.</summary>
    public string? Request { get; init; }

    /// <summary>Where the request's sectors live.</summary>
    public required IReadOnlyList<SectorLocation> Locations { get; init; }
}
