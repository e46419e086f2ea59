using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using VirtioScope.Block;
using VirtioScope.Images.Raw;

namespace VirtioScope.Images.Vpc;

/// <summary>
/// A VHD ("vpc") image: fixed, dynamic or differencing. Reads are lock-free; allocating writes take a lock and
/// write the block's bitmap and the moved footer before the data, and the BAT entry last.
/// </summary>
public sealed partial class VpcImage : IDiskImage, IImageDetails
{
    private const uint Unallocated = 0xFFFFFFFF;
    private readonly object _lock = new();
    private readonly SafeFileHandle _file;

    // Unsafe (convert's default, as in qemu-img) skips flushes.
    private CacheMode _cache;
    private readonly VpcFooter _footer;
    private readonly VpcDynamicHeader? _dyn;
    private readonly uint[] _bat;
    private readonly byte[]?[] _bitmaps;
    private readonly int _blockSize;
    private readonly int _blockShift;
    private readonly int _bitmapSize;
    private readonly IDiskImage? _parent;
    private readonly string? _parentPath;
    private long _fileLength;
    private byte[]? _fullBitmap;

    private VpcImage(string path, SafeFileHandle file, VpcFooter footer, VpcDynamicHeader? dyn, uint[] bat, long virtualSize,
        long fileLength, IDiskImage? parent, string? parentPath, bool readOnly)
    {
        FilePath = path;
        _file = file;
        _footer = footer;
        _dyn = dyn;
        _bat = bat;
        VirtualSize = virtualSize;
        _fileLength = fileLength;
        _parent = parent;
        _parentPath = parentPath;
        IsReadOnly = readOnly;
        if (dyn is not null)
        {
            _blockSize = dyn.BlockSize;
            _blockShift = System.Numerics.BitOperations.Log2((uint)_blockSize);
            _bitmapSize = ((_blockSize / (8 * 512)) + 511) & ~511;
        }
        _bitmaps = parent is null && footer.DiskType != VpcDiskType.Differencing ? [] : new byte[]?[bat.Length];
    }

    /// <inheritdoc />
    public string FilePath { get; }

    /// <inheritdoc />
    public ImageFormat Format => ImageFormat.Vpc;

    /// <inheritdoc />
    public long VirtualSize { get; }

    /// <inheritdoc />
    public bool IsReadOnly { get; }

    /// <inheritdoc />
    public IDiskImage? Backing => _parent;

    /// <inheritdoc />
    public long ActualSize => HostFile.AllocatedBytes(FilePath);

    /// <inheritdoc />
    public int? ClusterSize => _dyn is null ? null : _blockSize;

    /// <inheritdoc />
    public bool? DirtyFlag => null;

    /// <inheritdoc />
    public string? BackingFileName => _dyn is null || _footer.DiskType != VpcDiskType.Differencing ? null : _dyn.ParentName;

    /// <inheritdoc />
    public string? FullBackingFileName => _parentPath;

    /// <inheritdoc />
    public string? BackingFormat => _parentPath is null ? null : "vpc";

    /// <inheritdoc />
    public IReadOnlyList<KeyValuePair<string, object>> FormatSpecific => [];

    /// <summary>Whether the disk is fixed, dynamic or differencing.</summary>
    internal VpcDiskType DiskType => _footer.DiskType;

    /// <summary>The footer's unique id (a differencing child names it as its parent).</summary>
    internal Guid UniqueId => _footer.UniqueId;

    /// <summary>Opens a VHD; a differencing disk's parent is opened through <paramref name="openParent"/>.</summary>
    internal static VpcImage Open(string path, bool readOnly, bool forCheck, Func<string, IDiskImage>? openParent, CacheMode cache = CacheMode.Writeback)
    {
        SafeFileHandle file = File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite, FileShare.ReadWrite);
        IDiskImage? parent = null;
        try
        {
            long length = RandomAccess.GetLength(file);
            if (length < VpcFooter.Size)
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, "footer", $"the {length}-byte file is too short for a VHD footer");
            }
            Span<byte> buf = stackalloc byte[VpcDynamicHeader.Size];
            VpcFooter footer = ReadFooter(file, length, path, buf, forCheck);
            long virtualSize = footer.VirtualSize(path);
            if (footer.DiskType == VpcDiskType.Fixed)
            {
                if (!readOnly && footer.CurrentSize > length - VpcFooter.Size)
                {
                    throw new ImageException(ImageErrorKind.InvalidField, path, "current size", $"{footer.CurrentSize} bytes of data do not fit the {length}-byte file");
                }
                return new VpcImage(path, file, footer, null, [], virtualSize, length, null, null, readOnly) { _cache = cache };
            }
            ulong dataOffset = footer.DataOffset;
            if (dataOffset > (ulong)(length - VpcDynamicHeader.Size))
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, "data offset", $"dynamic header at {dataOffset} lies outside the {length}-byte file");
            }
            HostFile.ReadFull(file, buf, (long)dataOffset);
            var problems = new List<string>();
            VpcDynamicHeader dyn = VpcDynamicHeader.Parse(buf, length, path, forCheck ? problems : null);
            long blocks = (virtualSize + dyn.BlockSize - 1) / dyn.BlockSize;
            if (blocks > dyn.MaxEntries)
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, "max table entries", $"{dyn.MaxEntries} entries of {dyn.BlockSize} bytes cannot hold the {virtualSize}-byte disk");
            }
            uint[] bat = ReadBat(file, dyn, length, path, forCheck ? problems : null);
            string? parentPath = null;
            if (footer.DiskType == VpcDiskType.Differencing)
            {
                parentPath = FindParent(file, path, dyn, length);
                if (openParent is not null)
                {
                    parent = openParent(parentPath);
                    if (parent is VpcImage vp && vp.UniqueId != dyn.ParentUniqueId)
                    {
                        throw new ImageException(ImageErrorKind.BackingChain, path, "parent unique id", $"parent '{parentPath}' has id {vp.UniqueId}, the child expects {dyn.ParentUniqueId}");
                    }
                    if (parent.VirtualSize < virtualSize)
                    {
                        throw new ImageException(ImageErrorKind.BackingChain, path, "parent", $"parent '{parentPath}' is smaller than the child");
                    }
                }
            }
            return new VpcImage(path, file, footer, dyn, bat, virtualSize, length, parent, parentPath, readOnly) { _openProblems = problems, _cache = cache };
        }
        catch
        {
            parent?.Dispose();
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The footer: the copy at the start of a dynamic disk, else the one at the end. A bad copy at the start is
    /// refused as QEMU refuses it, except when opening for check, which then reads the end copy and reports the damage.
    /// </summary>
    private static VpcFooter ReadFooter(SafeFileHandle file, long length, string path, Span<byte> buf, bool forCheck)
    {
        HostFile.ReadFull(file, buf[..VpcFooter.Size], 0);
        if (buf.StartsWith(VpcFooter.Cookie))
        {
            try
            {
                return VpcFooter.Parse(buf[..VpcFooter.Size], path);
            }
            catch (ImageException) when (forCheck && length >= 2 * VpcFooter.Size)
            {
                // Fall back to the copy at the end; if that one is bad too, its error is reported.
            }
        }
        HostFile.ReadFull(file, buf[..VpcFooter.Size], length - VpcFooter.Size);
        return VpcFooter.Parse(buf[..VpcFooter.Size], path);
    }

    /// <summary>Reads the BAT; an entry outside the file is refused, or recorded in <paramref name="problems"/> and read as unallocated.</summary>
    private static uint[] ReadBat(SafeFileHandle file, VpcDynamicHeader dyn, long length, string path, List<string>? problems)
    {
        int entries = dyn.MaxEntries;
        byte[] raw = new byte[entries * 4L];
        HostFile.ReadFull(file, raw, dyn.TableOffset);
        var bat = new uint[entries];
        int bitmapSize = ((dyn.BlockSize / (8 * 512)) + 511) & ~511;
        long tableEnd = dyn.TableOffset + entries * 4L;
        for (int i = 0; i < entries; i++)
        {
            uint e = BinaryPrimitives.ReadUInt32BigEndian(raw.AsSpan(i * 4));
            if (e != Unallocated)
            {
                long start = e * 512L;
                long end = start + bitmapSize + dyn.BlockSize;
                if (start < VpcFooter.Size || (start < tableEnd && end > dyn.TableOffset) || end > length)
                {
                    string problem = $"block at sector {e} overlaps the metadata or lies past the end of the {length}-byte file (truncated image?)";
                    if (problems is null)
                    {
                        throw new ImageException(ImageErrorKind.InvalidField, path, $"BAT entry {i}", problem);
                    }
                    problems.Add($"VHD BAT entry {i}: {problem}");
                    e = Unallocated;
                }
            }
            bat[i] = e;
        }
        return bat;
    }

    /// <inheritdoc />
    public void Read(long offset, Span<byte> destination)
    {
        CheckRange(offset, destination.Length);
        if (_dyn is null)
        {
            HostFile.ReadFull(_file, destination, offset);
            return;
        }
        while (!destination.IsEmpty)
        {
            long block = offset >> _blockShift;
            int inBlock = (int)(offset & (_blockSize - 1));
            int n = Math.Min(destination.Length, _blockSize - inBlock);
            Span<byte> part = destination[..n];
            uint entry = Volatile.Read(ref _bat[block]);
            if (entry == Unallocated)
            {
                ReadParent(offset, part);
            }
            else if (_bitmaps.Length == 0)
            {
                HostFile.ReadFull(_file, part, entry * 512L + _bitmapSize + inBlock);
            }
            else
            {
                ReadDifferencing(block, entry, offset, inBlock, part);
            }
            destination = destination[n..];
            offset += n;
        }
    }

    private void ReadParent(long offset, Span<byte> part)
    {
        if (_parent is null)
        {
            part.Clear();
        }
        else
        {
            _parent.Read(offset, part);
        }
    }

    private void ReadDifferencing(long block, uint entry, long offset, int inBlock, Span<byte> part)
    {
        byte[] bitmap = Bitmap(block, entry);
        while (!part.IsEmpty)
        {
            int sector = inBlock >> 9;
            bool present = IsPresent(bitmap, sector);
            int run = 512 - (inBlock & 511);
            int s = sector + 1;
            while (run < part.Length && IsPresent(bitmap, s) == present)
            {
                run += 512;
                s++;
            }
            run = Math.Min(run, part.Length);
            if (present)
            {
                HostFile.ReadFull(_file, part[..run], entry * 512L + _bitmapSize + inBlock);
            }
            else
            {
                ReadParent(offset, part[..run]);
            }
            part = part[run..];
            offset += run;
            inBlock += run;
        }
    }

    private static bool IsPresent(byte[] bitmap, int sector) => (bitmap[sector >> 3] & (0x80 >> (sector & 7))) != 0;

    private byte[] Bitmap(long block, uint entry)
    {
        byte[]? bitmap = Volatile.Read(ref _bitmaps[block]);
        if (bitmap is null)
        {
            bitmap = new byte[_bitmapSize];
            HostFile.ReadFull(_file, bitmap, entry * 512L);
            bitmap = Interlocked.CompareExchange(ref _bitmaps[block], bitmap, null) ?? bitmap;
        }
        return bitmap;
    }

    /// <inheritdoc />
    public ImageExtent GetExtent(long offset, long length)
    {
        CheckRange(offset, length);
        if (_dyn is null)
        {
            return new ImageExtent(offset, length, ExtentKind.Data, FilePath, offset);
        }
        long block = offset >> _blockShift;
        uint entry = Volatile.Read(ref _bat[block]);
        long inBlock = offset & (_blockSize - 1);
        long n = Math.Min(length, _blockSize - inBlock);
        if (entry == Unallocated)
        {
            long end = offset + length;
            long pos = offset + n;
            while (pos < end && Volatile.Read(ref _bat[pos >> _blockShift]) == Unallocated)
            {
                pos = Math.Min(end, pos + _blockSize);
            }
            return new ImageExtent(offset, pos - offset, ExtentKind.Unallocated, null, -1);
        }
        long host = entry * 512L + _bitmapSize + inBlock;
        if (_bitmaps.Length == 0)
        {
            return new ImageExtent(offset, n, ExtentKind.Data, FilePath, host);
        }
        byte[] bitmap = Bitmap(block, entry);
        int sector = (int)(inBlock >> 9);
        bool present = IsPresent(bitmap, sector);
        long run = 512 - (inBlock & 511);
        for (int s = sector + 1; run < n && IsPresent(bitmap, s) == present; s++)
        {
            run += 512;
        }
        run = Math.Min(run, n);
        return present
            ? new ImageExtent(offset, run, ExtentKind.Data, FilePath, host)
            : new ImageExtent(offset, run, ExtentKind.Unallocated, null, -1);
    }

    private void CheckRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset > VirtualSize - length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"range {offset}+{length} is outside the {VirtualSize}-byte disk");
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _parent?.Dispose();
        _file.Dispose();
    }
}
