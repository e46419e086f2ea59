namespace VirtioScope.Images;

/// <summary>When written data is forced to stable storage (qemu-img's -t).</summary>
public enum CacheMode
{
    /// <summary>Flushes make data durable, and metadata updates are separated by flushes (power-loss safe).</summary>
    Writeback,

    /// <summary>
    /// No flushes at all (qemu-img convert's default). Writes still happen in dependency order, so a killed process
    /// leaves a consistent image; only a power loss may not.
    /// </summary>
    Unsafe,
}

/// <summary>How <see cref="DiskImage.Open"/> opens an image.</summary>
public sealed record ImageOpenOptions
{
    /// <summary>The format, or <see cref="ImageFormat.Auto"/> to detect it from the magic (qemu-img's <c>-f</c>).</summary>
    public ImageFormat Format { get; init; } = ImageFormat.Auto;

    /// <summary>Open read-only. Backing files are always opened read-only.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Whether to open the backing chain (false: the image reads as if it had none, as for <c>info</c>).</summary>
    public bool OpenBacking { get; init; } = true;

    /// <summary>Repair a dirty (lazy refcounts) image when opening it read-write, as QEMU does.</summary>
    public bool RepairDirty { get; init; } = true;

    /// <summary>Whether flushes reach stable storage.</summary>
    public CacheMode Cache { get; init; } = CacheMode.Writeback;

    /// <summary>Allow opening an image marked corrupt read-write (only for repair by <c>check -r</c>).</summary>
    public bool AllowCorruptWrite { get; init; }

    /// <summary>
    /// Open for <c>check</c>: metadata that a check reports (BAT entries out of range, a VHDX log that needs replaying
    /// in a read-only open, a bad VHD header checksum) does not refuse the open; such entries read as unallocated.
    /// </summary>
    public bool ForCheck { get; init; }

    /// <summary>The longest backing chain accepted.</summary>
    public int MaxChainDepth { get; init; } = 64;
}

/// <summary>How much space <see cref="DiskImage.Create"/> reserves up front.</summary>
public enum Preallocation
{
    /// <summary>Nothing beyond the metadata needed for an empty image.</summary>
    Off,

    /// <summary>All metadata (qcow2 L2 tables and refcounts) for the whole disk.</summary>
    Metadata,

    /// <summary>Metadata and data space reserved with fallocate.</summary>
    Falloc,

    /// <summary>Metadata and data space written with zeroes.</summary>
    Full,
}

/// <summary>Compression used for compressed qcow2 clusters.</summary>
public enum CompressionType
{
    /// <summary>Raw deflate (the default, header value 0).</summary>
    Zlib = 0,

    /// <summary>Zstandard (header value 1).</summary>
    Zstd = 1,
}

/// <summary>What <see cref="DiskImage.Create"/> makes: qemu-img create's <c>-o</c> options.</summary>
public sealed record ImageCreateOptions
{
    /// <summary>Output format (raw or qcow2).</summary>
    public ImageFormat Format { get; init; } = ImageFormat.Raw;

    /// <summary>Virtual size in bytes; when null, the backing file's size.</summary>
    public long? Size { get; init; }

    /// <summary>qcow2 cluster size in bytes (512 to 2 MiB, a power of two).</summary>
    public int ClusterSize { get; init; } = 65536;

    /// <summary>qcow2 version: 2 (compat=0.10) or 3 (compat=1.1).</summary>
    public int Version { get; init; } = 3;

    /// <summary>qcow2 compression type.</summary>
    public CompressionType Compression { get; init; } = CompressionType.Zlib;

    /// <summary>qcow2 extended L2 entries (subclusters).</summary>
    public bool ExtendedL2 { get; init; }

    /// <summary>qcow2 refcount width: 1, 2, 4, 8, 16, 32 or 64.</summary>
    public int RefcountBits { get; init; } = 16;

    /// <summary>qcow2 lazy refcounts compatible feature.</summary>
    public bool LazyRefcounts { get; init; }

    /// <summary>Preallocation mode.</summary>
    public Preallocation Preallocation { get; init; } = Preallocation.Off;

    /// <summary>Backing file name as it will be stored (relative names are relative to the new image).</summary>
    public string? BackingFile { get; init; }

    /// <summary>Backing file format; detected when null.</summary>
    public ImageFormat BackingFormat { get; init; } = ImageFormat.Auto;

    /// <summary>Whether flushes of the new image reach stable storage.</summary>
    public CacheMode Cache { get; init; } = CacheMode.Writeback;

    /// <summary>qcow2 external data file name (stored relative to the image as given).</summary>
    public string? DataFile { get; init; }

    /// <summary>vpc/vhdx subformat: "dynamic" (the default) or "fixed".</summary>
    public string? Subformat { get; init; }

    /// <summary>vpc/vhdx block size in bytes; null for the format's default (vpc 2 MiB, vhdx by disk size as qemu-img).</summary>
    public int? BlockSize { get; init; }

    /// <summary>vhdx log size in bytes (a multiple of 1 MiB; default 1 MiB).</summary>
    public long? LogSize { get; init; }

    /// <summary>vhdx logical sector size, 512 or 4096.</summary>
    public int LogicalSectorSize { get; init; } = 512;

    /// <summary>vpc: store the exact size (current_size) instead of rounding it to the CHS geometry.</summary>
    public bool ForceSize { get; init; }
}

/// <summary>The one place a format's writer asks whether a flush reaches the disk.</summary>
internal static class CacheModeFlush
{
    /// <summary>Forces <paramref name="file"/>'s written data to stable storage, unless the cache mode skips flushes.</summary>
    public static void Flush(this CacheMode mode, Microsoft.Win32.SafeHandles.SafeFileHandle file)
    {
        if (mode == CacheMode.Writeback)
        {
            RandomAccess.FlushToDisk(file);
        }
    }
}
