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
    private VhdxHeader _header;
    private long _fileLength;

    private VhdxImage(string path, SafeFileHandle file, VhdxHeader header, VhdxRegions regions, VhdxMetadata meta, ulong[] bat, long chunkRatio, long fileLength, bool readOnly)
    {
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
    public IDiskImage? Backing => null;

    /// <inheritdoc />
    public long ActualSize => HostFile.AllocatedBytes(FilePath);

    /// <inheritdoc />
    public int? ClusterSize => _meta.BlockSize;

    /// <inheritdoc />
    public bool? DirtyFlag => null;

    /// <inheritdoc />
    public string? BackingFileName => null;

    /// <inheritdoc />
    public string? FullBackingFileName => null;

    /// <inheritdoc />
    public string? BackingFormat => null;

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
    internal static VhdxImage Open(string path, bool readOnly)
    {
        SafeFileHandle file = File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite, FileShare.ReadWrite);
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
            if (VhdxLog.NeedsReplay(header))
            {
                if (readOnly)
                {
                    throw new ImageException(ImageErrorKind.Corrupt, path, "log",
                        $"the log needs to be replayed; run 'virtioscope check -r all {path}' or open the image read-write to replay it");
                }
                VhdxLog.Replay(file, header, path);
                header = WriteHeader(file, header, logGuid: Guid.Empty, dataWriteGuid: header.DataWriteGuid);
                length = RandomAccess.GetLength(file);
            }
            VhdxRegions regions = VhdxRegions.Read(file, length, path);
            VhdxMetadata meta = VhdxMetadata.Read(file, regions, path);
            if (meta.HasParent)
            {
                throw new ImageException(ImageErrorKind.UnsupportedFeature, path, "has parent", "differencing VHDX images are not supported");
            }
            long chunkRatio = SectorsPerBitmap * meta.LogicalSectorSize / meta.BlockSize;
            long blocks = (meta.VirtualSize + meta.BlockSize - 1) / meta.BlockSize;
            long entries = blocks + (blocks - 1) / chunkRatio;
            if (entries * 8 > regions.BatLength)
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, "BAT", $"{entries} entries do not fit the {regions.BatLength}-byte BAT region");
            }
            ulong[] bat = ReadBat(file, regions, entries, meta, length, path);
            return new VhdxImage(path, file, header, regions, meta, bat, chunkRatio, length, readOnly);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static ulong[] ReadBat(SafeFileHandle file, VhdxRegions regions, long entries, VhdxMetadata meta, long length, string path)
    {
        byte[] raw = new byte[entries * 8];
        HostFile.ReadFull(file, raw, regions.BatOffset);
        var bat = new ulong[entries];
        for (int i = 0; i < entries; i++)
        {
            ulong e = BinaryPrimitives.ReadUInt64LittleEndian(raw.AsSpan(i * 8));
            int state = (int)(e & BatStateMask);
            long offset = (long)(e >> BatOffsetShift) * Mib;
            if (state is PayloadFullyPresent or PayloadPartiallyPresent)
            {
                // The block must start inside the file; a tail cut short by truncation reads as zeroes, as in QEMU.
                if (offset < Mib || offset >= length)
                {
                    throw new ImageException(ImageErrorKind.InvalidField, path, $"BAT entry {i}", $"block at {offset} lies outside the {length}-byte file");
                }
                if (offset < regions.BatOffset + regions.BatLength && regions.BatOffset < offset + meta.BlockSize
                    || offset < regions.MetadataOffset + regions.MetadataLength && regions.MetadataOffset < offset + meta.BlockSize)
                {
                    throw new ImageException(ImageErrorKind.InvalidField, path, $"BAT entry {i}", $"block at {offset} overlaps the BAT or the metadata region");
                }
            }
            else if (state is not (PayloadNotPresent or PayloadUndefined or PayloadZero or PayloadUnmapped))
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, $"BAT entry {i}", $"state {state} is not a payload block state");
            }
            bat[i] = e;
        }
        return bat;
    }

    /// <summary>Writes a new header into the slot that is not current, sequence number one higher, and flushes.</summary>
    private static VhdxHeader WriteHeader(SafeFileHandle file, VhdxHeader current, Guid logGuid, Guid dataWriteGuid)
    {
        byte[] raw = (byte[])current.Raw.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(raw.AsSpan(HeaderSequenceOffset), current.Sequence + 1);
        Guid.NewGuid().TryWriteBytes(raw.AsSpan(HeaderFileWriteGuidOffset));
        dataWriteGuid.TryWriteBytes(raw.AsSpan(HeaderDataWriteGuidOffset));
        logGuid.TryWriteBytes(raw.AsSpan(HeaderLogGuidOffset));
        Seal(raw, HeaderChecksumOffset);
        long position = current.Position == Header1Offset ? Header2Offset : Header1Offset;
        RandomAccess.Write(file, raw, position);
        RandomAccess.FlushToDisk(file);
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
            if ((e & BatStateMask) is PayloadFullyPresent or PayloadPartiallyPresent)
            {
                HostFile.ReadFull(_file, destination[..n], (long)(e >> BatOffsetShift) * Mib + inBlock);
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
        if (kind == ExtentKind.Data)
        {
            return new ImageExtent(offset, n, kind, FilePath, (long)(e >> BatOffsetShift) * Mib + inBlock);
        }
        long pos = offset + n;
        while (pos < end && Kind(Volatile.Read(ref _bat[BatIndex(pos >> _blockShift)])) == kind)
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
    }
}
