using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using VirtioScope.Images.Raw;
using static VirtioScope.Images.Vhdx.VhdxLayout;

namespace VirtioScope.Images.Vhdx;

/// <summary>
/// A VHDX image ([MS-VHDX]): headers chosen by sequence number and CRC-32C, region table, metadata, and a BAT of
/// payload blocks interleaved with sector bitmap blocks by the chunk ratio. A read-write open replays a pending log
/// first; a read-only open of an image with a pending log is refused, as qemu-img does.
/// </summary>
public sealed partial class VhdxImage : IDiskImage, IImageDetails
{
    private readonly object _lock = new();
    private readonly SafeFileHandle _file;
    private readonly VhdxRegions _regions;
    private readonly VhdxMetadata _meta;
    private readonly ulong[] _bat;
    private readonly int _blockShift;
    private readonly long _chunkRatio;
    private readonly IDiskImage? _parent;
    private readonly string? _parentPath;
    private VhdxHeader _header;
    private long _fileLength;

    // Unsafe (convert's default, as in qemu-img) skips every flush; the log still goes before the metadata it covers.
    private CacheMode _cache;

    private VhdxImage(string path, SafeFileHandle file, VhdxHeader header, VhdxRegions regions, VhdxMetadata meta, ulong[] bat, long chunkRatio, long fileLength, bool readOnly,
        IDiskImage? parent, string? parentPath)
    {
        _parent = parent;
        _parentPath = parentPath;
        FilePath = path;
        _file = file;
        _header = header;
        _regions = regions;
        _meta = meta;
        _bat = bat;
        _chunkRatio = chunkRatio;
        _blockShift = System.Numerics.BitOperations.Log2((uint)meta.BlockSize);
        _fileLength = fileLength;
        IsReadOnly = readOnly;
    }

    /// <inheritdoc />
    public string FilePath { get; }

    /// <inheritdoc />
    public ImageFormat Format => ImageFormat.Vhdx;

    /// <inheritdoc />
    public long VirtualSize => _meta.VirtualSize;

    /// <inheritdoc />
    public bool IsReadOnly { get; }

    /// <inheritdoc />
    public IDiskImage? Backing => _parent;

    /// <inheritdoc />
    public long ActualSize => HostFile.AllocatedBytes(FilePath);

    /// <inheritdoc />
    public int? ClusterSize => _meta.BlockSize;

    /// <inheritdoc />
    public bool? DirtyFlag => null;

    /// <inheritdoc />
    public string? BackingFileName => _meta.Locator is { } l
        ? (l.Entries.TryGetValue("relative_path", out string? r) ? r : l.Entries.GetValueOrDefault("absolute_win32_path") ?? l.Entries.GetValueOrDefault("volume_path"))
        : null;

    /// <inheritdoc />
    public string? FullBackingFileName => _parentPath;

    /// <inheritdoc />
    public string? BackingFormat => _parentPath is null ? null : "vhdx";

    /// <summary>Whether this is a differencing image (has a parent).</summary>
    public bool IsDifferencing => _meta.HasParent;

    /// <summary>The data write GUID of the current header: what a differencing child records as its parent linkage.</summary>
    internal Guid DataWriteGuid => _header.DataWriteGuid;

    /// <inheritdoc />
    public IReadOnlyList<KeyValuePair<string, object>> FormatSpecific => [];

    /// <summary>Logical sector size (512 or 4096).</summary>
    public int LogicalSectorSize => _meta.LogicalSectorSize;

    /// <summary>Physical sector size (512 or 4096).</summary>
    public int PhysicalSectorSize => _meta.PhysicalSectorSize;

    /// <summary>Whether unused blocks stay allocated (fixed VHDX).</summary>
    public bool LeaveBlocksAllocated => _meta.LeaveBlocksAllocated;

    /// <summary>BAT state of a block whose payload is fully present in the file.</summary>
    public const int PayloadStateFullyPresent = PayloadFullyPresent;

    /// <summary>The payload block state of the block holding <paramref name="offset"/> (for map and tests).</summary>
    public int BlockState(long offset) => (int)(Volatile.Read(ref _bat[BatIndex(offset >> _blockShift)]) & BatStateMask);

    /// <summary>Opens a VHDX; read-write opens replay a pending log, read-only opens refuse one.</summary>
    internal static VhdxImage Open(string path, bool readOnly, bool forCheck, Func<string, IDiskImage>? openParent, CacheMode cache = CacheMode.Writeback)
    {
        SafeFileHandle file = File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite, FileShare.ReadWrite);
        IDiskImage? parent = null;
        try
        {
            long length = RandomAccess.GetLength(file);
            Span<byte> sig = stackalloc byte[8];
            HostFile.ReadFull(file, sig, 0);
            if (!sig.SequenceEqual(FileSignature))
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, "file type identifier", "signature is not 'vhdxfile'");
            }
            VhdxHeader header = VhdxHeader.ReadCurrent(file, length, path);
            var state = new OpenState();
            if (VhdxLog.NeedsReplay(header))
            {
                if (readOnly && forCheck)
                {
                    state.LogPending = true;
                }
                else if (readOnly)
                {
                    throw new ImageException(ImageErrorKind.Corrupt, path, "log",
                        $"the log needs to be replayed; run 'virtioscope check -r all {path}' or open the image read-write to replay it");
                }
                else
                {
                    state.LogEntriesReplayed = VhdxLog.Replay(file, header, path);
                    header = WriteHeader(file, header, logGuid: Guid.Empty, dataWriteGuid: header.DataWriteGuid, CacheMode.Writeback);
                    length = RandomAccess.GetLength(file);
                }
            }
            VhdxRegions regions = VhdxRegions.Read(file, length, path);
            VhdxMetadata meta = VhdxMetadata.Read(file, regions, path);
            long chunkRatio = SectorsPerBitmap * meta.LogicalSectorSize / meta.BlockSize;
            long entries = BatEntries(meta.VirtualSize, meta.BlockSize, chunkRatio, meta.HasParent);
            if (entries * 8 > regions.BatLength)
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, "BAT", $"{entries} entries do not fit the {regions.BatLength}-byte BAT region");
            }
            ulong[] bat = ReadBat(file, regions, entries, chunkRatio, meta, length, path, forCheck ? state.BatProblems : null);
            string? parentPath = null;
            if (meta.Locator is { } locator)
            {
                parentPath = FindParent(locator, path);
                if (openParent is not null)
                {
                    parent = openParent(parentPath);
                    CheckParent(parent, locator, meta, path, parentPath);
                }
            }
            return new VhdxImage(path, file, header, regions, meta, bat, chunkRatio, length, readOnly, parent, parentPath) { _openState = state, _cache = cache };
        }
        catch
        {
            parent?.Dispose();
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// BAT entries for a disk: payload blocks with a sector bitmap entry after every chunk. A differencing image needs
    /// the bitmap entry of its last, partial chunk too; dynamic and fixed images end at the last payload entry.
    /// </summary>
    internal static long BatEntries(long virtualSize, long blockSize, long chunkRatio, bool hasParent)
    {
        long blocks = (virtualSize + blockSize - 1) / blockSize;
        return hasParent ? (blocks + chunkRatio - 1) / chunkRatio * (chunkRatio + 1) : blocks + (blocks - 1) / chunkRatio;
    }

    private static string FindParent(VhdxParentLocator locator, string path)
    {
        string? first = null;
        foreach (string candidate in locator.Candidates(path))
        {
            first ??= candidate;
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new ImageException(ImageErrorKind.BackingChain, path, "parent locator",
            first is null ? "no relative_path, volume_path or absolute_win32_path names the parent" : $"parent '{first}' does not exist");
    }

    /// <summary>The parent must be a VHDX whose data write GUID is the child's parent_linkage (or parent_linkage2), with the same size and sector size.</summary>
    private static void CheckParent(IDiskImage parent, VhdxParentLocator locator, VhdxMetadata meta, string path, string parentPath)
    {
        if (parent is not VhdxImage vp)
        {
            throw new ImageException(ImageErrorKind.BackingChain, path, "parent locator", $"parent '{parentPath}' is a {parent.Format.ToName()} image, not VHDX");
        }
        Guid linkage = locator.ParentLinkage(path);
        if (vp.DataWriteGuid != linkage && vp.DataWriteGuid != locator.ParentLinkage2)
        {
            throw new ImageException(ImageErrorKind.BackingChain, path, "parent linkage",
                $"parent '{parentPath}' has data write GUID {vp.DataWriteGuid}, the child expects {linkage} (the parent was modified after the child was made)");
        }
        if (vp.VirtualSize != meta.VirtualSize || vp.LogicalSectorSize != meta.LogicalSectorSize)
        {
            throw new ImageException(ImageErrorKind.BackingChain, path, "parent", $"parent '{parentPath}' differs in virtual size or logical sector size");
        }
    }

    /// <summary>
    /// Reads the BAT. An invalid entry is refused, or, when <paramref name="problems"/> collects them (an open for
    /// check), recorded and read as not present.
    /// </summary>
    private static ulong[] ReadBat(SafeFileHandle file, VhdxRegions regions, long entries, long chunkRatio, VhdxMetadata meta, long length, string path,
        List<string>? problems)
    {
        byte[] raw = new byte[entries * 8];
        HostFile.ReadFull(file, raw, regions.BatOffset);
        var bat = new ulong[entries];
        for (int i = 0; i < entries; i++)
        {
            ulong e = BinaryPrimitives.ReadUInt64LittleEndian(raw.AsSpan(i * 8));
            if (BatEntryProblem(i, e, chunkRatio, meta, regions, length) is { } problem)
            {
                if (problems is null)
                {
                    throw new ImageException(ImageErrorKind.InvalidField, path, $"BAT entry {i}", problem);
                }
                problems.Add($"VHDX BAT entry {i}: {problem}");
                e = PayloadNotPresent;
            }
            bat[i] = e;
        }
        return bat;
    }

    /// <summary>Why BAT entry <paramref name="i"/> is invalid (state, or a block outside the file or over the BAT or metadata), or null.</summary>
    private static string? BatEntryProblem(long i, ulong e, long chunkRatio, VhdxMetadata meta, VhdxRegions regions, long length)
    {
        int state = (int)(e & BatStateMask);
        long offset = (long)(e >> BatOffsetShift) * Mib;
        bool bitmapEntry = i % (chunkRatio + 1) == chunkRatio;
        long size = bitmapEntry ? Mib : meta.BlockSize;
        bool present = bitmapEntry ? state == SectorBitmapPresent : state is PayloadFullyPresent or PayloadPartiallyPresent;
        if (bitmapEntry && state is not (PayloadNotPresent or SectorBitmapPresent))
        {
            return $"state {state} is not a sector bitmap block state";
        }
        if (!bitmapEntry && state is not (PayloadNotPresent or PayloadUndefined or PayloadZero or PayloadUnmapped or PayloadFullyPresent or PayloadPartiallyPresent))
        {
            return $"state {state} is not a payload block state";
        }
        if (!present)
        {
            return null;
        }
        // The block must start inside the file; a tail cut short by truncation reads as zeroes, as in QEMU.
        if (offset < Mib || offset >= length)
        {
            return $"block at {offset} lies outside the {length}-byte file";
        }
        if (offset < regions.BatOffset + regions.BatLength && regions.BatOffset < offset + size
            || offset < regions.MetadataOffset + regions.MetadataLength && regions.MetadataOffset < offset + size)
        {
            return $"block at {offset} overlaps the BAT or the metadata region";
        }
        return null;
    }

    /// <summary>Writes a new header into the slot that is not current, sequence number one higher, and flushes.</summary>
    private static VhdxHeader WriteHeader(SafeFileHandle file, VhdxHeader current, Guid logGuid, Guid dataWriteGuid, CacheMode cache)
    {
        byte[] raw = (byte[])current.Raw.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(raw.AsSpan(HeaderSequenceOffset), current.Sequence + 1);
        Guid.NewGuid().TryWriteBytes(raw.AsSpan(HeaderFileWriteGuidOffset));
        dataWriteGuid.TryWriteBytes(raw.AsSpan(HeaderDataWriteGuidOffset));
        logGuid.TryWriteBytes(raw.AsSpan(HeaderLogGuidOffset));
        Seal(raw, HeaderChecksumOffset);
        long position = current.Position == Header1Offset ? Header2Offset : Header1Offset;
        RandomAccess.Write(file, raw, position);
        cache.Flush(file);
        return new VhdxHeader { Raw = raw, Position = position };
    }

    private long BatIndex(long block) => block + block / _chunkRatio;

    /// <inheritdoc />
    public void Read(long offset, Span<byte> destination)
    {
        CheckRange(offset, destination.Length);
        int blockSize = _meta.BlockSize;
        while (!destination.IsEmpty)
        {
            long block = offset >> _blockShift;
            int inBlock = (int)(offset & (blockSize - 1));
            int n = Math.Min(destination.Length, blockSize - inBlock);
            ulong e = Volatile.Read(ref _bat[BatIndex(block)]);
            int state = (int)(e & BatStateMask);
            if (state == PayloadFullyPresent || (state == PayloadPartiallyPresent && !IsDifferencing))
            {
                HostFile.ReadFull(_file, destination[..n], (long)(e >> BatOffsetShift) * Mib + inBlock);
            }
            else if (state == PayloadPartiallyPresent)
            {
                ReadPartial(offset, (long)(e >> BatOffsetShift) * Mib + inBlock, destination[..n]);
            }
            else if (state != PayloadZero && IsDifferencing)
            {
                ReadParent(offset, destination[..n]);
            }
            else
            {
                destination[..n].Clear();
            }
            destination = destination[n..];
            offset += n;
        }
    }

    /// <inheritdoc />
    public ImageExtent GetExtent(long offset, long length)
    {
        CheckRange(offset, length);
        long end = offset + length;
        long block = offset >> _blockShift;
        long inBlock = offset & (_meta.BlockSize - 1);
        ulong e = Volatile.Read(ref _bat[BatIndex(block)]);
        ExtentKind kind = Kind(e);
        long n = Math.Min(length, _meta.BlockSize - inBlock);
        if ((e & BatStateMask) == PayloadPartiallyPresent && IsDifferencing)
        {
            return PartialExtent(offset, n, (long)(e >> BatOffsetShift) * Mib + inBlock);
        }
        if (kind == ExtentKind.Data)
        {
            return new ImageExtent(offset, n, kind, FilePath, (long)(e >> BatOffsetShift) * Mib + inBlock);
        }
        long pos = offset + n;
        while (pos < end && Kind(Volatile.Read(ref _bat[BatIndex(pos >> _blockShift)])) == kind
            && (Volatile.Read(ref _bat[BatIndex(pos >> _blockShift)]) & BatStateMask) != PayloadPartiallyPresent)
        {
            pos = Math.Min(end, pos + _meta.BlockSize);
        }
        return new ImageExtent(offset, pos - offset, kind, null, -1);
    }

    private static ExtentKind Kind(ulong e) => (int)(e & BatStateMask) switch
    {
        PayloadFullyPresent or PayloadPartiallyPresent => ExtentKind.Data,
        PayloadZero => ExtentKind.Zero,
        _ => ExtentKind.Unallocated,
    };

    private void CheckRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset > VirtualSize - length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"range {offset}+{length} is outside the {VirtualSize}-byte disk");
        }
    }

    /// <summary>Flushes (clearing the log GUID once every logged change is in place) and closes the file.</summary>
    public void Dispose()
    {
        if (!IsReadOnly && !_stopped && !_file.IsClosed)
        {
            Flush();
        }
        _file.Dispose();
        _parent?.Dispose();
    }
}
