namespace VirtioScope.Images;

/// <summary>An internal snapshot as listed by <c>qemu-img snapshot -l</c>.</summary>
public sealed record SnapshotInfo(string Id, string Name, long VmStateSize, DateTimeOffset Date, long VmClockNanoseconds, long VirtualSize)
{
    /// <summary>Instruction count when the snapshot was taken (0 when unknown).</summary>
    public long Icount { get; init; }
}

/// <summary>Formats with internal snapshots (qcow2).</summary>
public interface ISnapshotStore
{
    /// <summary>The snapshots in table order.</summary>
    IReadOnlyList<SnapshotInfo> Snapshots { get; }

    /// <summary>Records the current disk state as a new snapshot.</summary>
    void CreateSnapshot(string name);

    /// <summary>Removes a snapshot found by id or name.</summary>
    void DeleteSnapshot(string idOrName);

    /// <summary>Reverts the disk to a snapshot found by id or name.</summary>
    void ApplySnapshot(string idOrName);

    /// <summary>A read-only view of a snapshot's disk content.</summary>
    IDiskImage OpenSnapshot(string idOrName);
}

/// <summary>Whether a resize may make the disk smaller.</summary>
public enum ResizeMode
{
    /// <summary>Refuse a new size below the current one.</summary>
    GrowOnly,

    /// <summary>Allow shrinking; data past the new end is lost.</summary>
    AllowShrink,
}

/// <summary>Formats whose virtual size can change.</summary>
public interface IResizableImage
{
    /// <summary>Changes the virtual size to <paramref name="newSize"/> bytes.</summary>
    void Resize(long newSize, ResizeMode mode);
}

/// <summary>What <c>check -r</c> may repair.</summary>
public enum CheckRepair
{
    /// <summary>Only report.</summary>
    None,

    /// <summary>Fix leaked clusters.</summary>
    Leaks,

    /// <summary>Fix leaks and refcount errors.</summary>
    All,
}

/// <summary>The result of a consistency check, with qemu-img's counters.</summary>
public sealed class CheckReport
{
    /// <summary>Problems that lose or may lose data.</summary>
    public int Corruptions { get; set; }

    /// <summary>Clusters allocated but unused.</summary>
    public int Leaks { get; set; }

    /// <summary>Errors that stopped parts of the check.</summary>
    public int CheckErrors { get; set; }

    /// <summary>Corruptions fixed by a repair.</summary>
    public int CorruptionsFixed { get; set; }

    /// <summary>Leaks fixed by a repair.</summary>
    public int LeaksFixed { get; set; }

    /// <summary>Byte offset just past the last used cluster.</summary>
    public long ImageEndOffset { get; set; }

    /// <summary>Guest clusters of the virtual disk.</summary>
    public long TotalClusters { get; set; }

    /// <summary>Guest clusters allocated in the active layer.</summary>
    public long AllocatedClusters { get; set; }

    /// <summary>Allocated guest clusters not contiguous with their predecessor.</summary>
    public long FragmentedClusters { get; set; }

    /// <summary>Allocated guest clusters stored compressed.</summary>
    public long CompressedClusters { get; set; }

    /// <summary>
    /// Whether the format counts clusters and the image end (qcow2); qemu-img prints neither for vhdx, vpc and vmdk.
    /// </summary>
    public bool HasAllocationCounts { get; set; } = true;

    /// <summary>One line per problem, in qemu-img's wording where it has one.</summary>
    public IList<string> Messages { get; } = new List<string>();
}

/// <summary>Formats that can check (and repair) their own metadata.</summary>
public interface ICheckableImage
{
    /// <summary>Checks metadata; never throws for malformed content, reporting it instead.</summary>
    CheckReport Check(CheckRepair repair);
}

/// <summary>Format details for <c>info</c>.</summary>
public interface IImageDetails
{
    /// <summary>Cluster size in bytes, if the format has clusters.</summary>
    int? ClusterSize { get; }

    /// <summary>Whether the image was left dirty (lazy refcounts), if the format has such a flag.</summary>
    bool? DirtyFlag { get; }

    /// <summary>The backing file name as stored in the image.</summary>
    string? BackingFileName { get; }

    /// <summary>The backing file name resolved against the image's directory.</summary>
    string? FullBackingFileName { get; }

    /// <summary>The backing format as stored in the image.</summary>
    string? BackingFormat { get; }

    /// <summary>
    /// qemu-img's "format-specific" data: ordered names and values (string, bool, int or long, or a list of such
    /// name/value lists for arrays of objects such as VMDK's extents).
    /// </summary>
    IReadOnlyList<KeyValuePair<string, object>> FormatSpecific { get; }
}

/// <summary>Formats that store clusters compressed (qcow2): used by <c>convert -c</c>.</summary>
public interface ICompressedWriter
{
    /// <summary>The unit compressed as a whole, in bytes.</summary>
    int ClusterSize { get; }

    /// <summary>
    /// Compresses one whole cluster (thread-safe, no shared state); returns the compressed length, or -1 when it
    /// does not shrink and should be written normally.
    /// </summary>
    int Compress(ReadOnlySpan<byte> cluster, Span<byte> destination);

    /// <summary>Stores the output of <see cref="Compress"/> as guest cluster <paramref name="guestCluster"/>.</summary>
    void WriteCompressed(long guestCluster, ReadOnlySpan<byte> compressed);
}
