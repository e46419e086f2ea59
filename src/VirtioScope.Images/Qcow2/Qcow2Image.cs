using System.Buffers;
using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using VirtioScope.Block;
using static VirtioScope.Images.Qcow2.Qcow2Layout;

namespace VirtioScope.Images.Qcow2;

/// <summary>
/// A qcow2 image (version 2 or 3). Reads need no lock beyond a short metadata lookup; writes that only overwrite
/// clusters the image owns go straight to the file, while allocating writes take the metadata lock.
/// Metadata is written in dependency order: refcounts, then data, then L2 tables, then the L1 table, with flushes
/// between, and clusters are freed only after nothing on disk points at them.
/// </summary>
public sealed partial class Qcow2Image : IDiskImage, IImageDetails
{
    private const long L2CacheBytes = 32L << 20;
    private readonly object _lock = new();
    private readonly SafeFileHandle _file;
    private readonly SafeFileHandle _data;
    private readonly string? _dataPath;
    private readonly Qcow2Header _header;
    private readonly Qcow2Geometry _geo;
    private readonly Dictionary<long, ulong[]> _l2Cache = [];
    private readonly HashSet<long> _dirtyL2 = [];
    private readonly List<long> _pendingFrees = [];
    private readonly IDiskImage? _backing;
    private readonly string? _fullBackingName;
    private ulong[] _l1;
    private bool _l1Dirty;
    private List<Qcow2Snapshot> _snapshots;
    private Qcow2Refcounts? _refcounts;
    private long _fileLength;
    private bool _hasBitmaps;
    private bool _dirtiedHere;
    private long _compressedCursor;
    private long _snapshotTableBytes;
    private bool _disposed;
    private bool _ownsBacking = true;
    private CacheMode _cache;

    private Qcow2Image(string path, SafeFileHandle file, SafeFileHandle data, string? dataPath, Qcow2Header header, ulong[] l1,
        List<Qcow2Snapshot> snapshots, IDiskImage? backing, string? fullBackingName, bool readOnly, long fileLength)
    {
        FilePath = path;
        _file = file;
        _data = data;
        _dataPath = dataPath;
        _header = header;
        _geo = new Qcow2Geometry(header.ClusterBits, header.ExtendedL2);
        _l1 = l1;
        _snapshots = snapshots;
        _backing = backing;
        _fullBackingName = fullBackingName;
        IsReadOnly = readOnly;
        _fileLength = fileLength;
    }

    /// <inheritdoc />
    public string FilePath { get; }

    /// <inheritdoc />
    public ImageFormat Format => ImageFormat.Qcow2;

    /// <inheritdoc />
    public long VirtualSize => Volatile.Read(ref _header.SizeField);

    /// <inheritdoc />
    public bool IsReadOnly { get; }

    /// <inheritdoc />
    public IDiskImage? Backing => _backing;

    /// <inheritdoc />
    public long ActualSize => Raw.HostFile.AllocatedBytes(FilePath) + (_dataPath is null ? 0 : Raw.HostFile.AllocatedBytes(_dataPath));

    /// <inheritdoc />
    public int? ClusterSize => _header.ClusterSize;

    /// <inheritdoc />
    public bool? DirtyFlag => (_header.IncompatibleFeatures & IncompatDirty) != 0;

    /// <inheritdoc />
    public string? BackingFileName => _header.BackingFile;

    /// <inheritdoc />
    public string? FullBackingFileName => _fullBackingName;

    /// <inheritdoc />
    public string? BackingFormat => _header.BackingFormat;

    /// <summary>The external data file as named in the header, if any.</summary>
    public string? DataFileName => _header.DataFile;

    /// <inheritdoc />
    public IReadOnlyList<KeyValuePair<string, object>> FormatSpecific
    {
        get
        {
            var list = new List<KeyValuePair<string, object>>
            {
                new("compat", _header.Version >= 3 ? "1.1" : "0.10"),
            };
            if (_header.Version >= 3)
            {
                if (_header.DataFile is not null)
                {
                    list.Add(new("data-file", _header.DataFile));
                    list.Add(new("data-file-raw", (_header.AutoclearFeatures & AutoclearDataFileRaw) != 0));
                }
                list.Add(new("compression-type", _header.CompressionType == CompressionType.Zstd ? "zstd" : "zlib"));
                list.Add(new("lazy-refcounts", (_header.CompatibleFeatures & CompatLazyRefcounts) != 0));
                if (Qcow2Bitmaps.Read(_header, _file, _fileLength, FilePath) is { } bitmaps)
                {
                    list.Add(new("bitmaps", bitmaps.Items.Select(b => (IReadOnlyList<KeyValuePair<string, object>>)
                        [new("flags", b.FlagNames), new("name", b.Name), new("granularity", b.Granularity)]).ToList()));
                }
            }
            else
            {
                list.Add(new("compression-type", "zlib"));
            }
            list.Add(new("refcount-bits", _header.RefcountBits));
            if (_header.Version >= 3)
            {
                list.Add(new("corrupt", (_header.IncompatibleFeatures & IncompatCorrupt) != 0));
                list.Add(new("extended-l2", _header.ExtendedL2));
            }
            return list;
        }
    }

    /// <summary>The qcow2 version (2 or 3).</summary>
    public int Version => _header.Version;

    /// <summary>Compression type for compressed clusters.</summary>
    public CompressionType CompressionType => _header.CompressionType;

    /// <summary>Opens a qcow2 image; the backing chain is opened through <paramref name="openBacking"/>.</summary>
    internal static Qcow2Image Open(string path, ImageOpenOptions options, Func<string, ImageFormat, IDiskImage>? openBacking)
    {
        bool readOnly = options.ReadOnly;
        SafeFileHandle file = File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite, FileShare.ReadWrite);
        SafeFileHandle? data = null;
        IDiskImage? backing = null;
        try
        {
            long fileLength = RandomAccess.GetLength(file);
            byte[] head = new byte[Math.Min(fileLength, 1 << MaxClusterBits)];
            Raw.HostFile.ReadFull(file, head, 0);
            Qcow2Header header = Qcow2Header.Parse(head, fileLength, path);
            if (!readOnly && (header.IncompatibleFeatures & IncompatCorrupt) != 0 && !options.AllowCorruptWrite)
            {
                throw new ImageException(ImageErrorKind.Corrupt, path, "incompatible_features", "image is marked corrupt; open it read-only or repair it with 'check -r all'");
            }
            ulong[] l1 = ReadL1(file, header.L1TableOffset, header.L1Size);
            List<Qcow2Snapshot> snapshots = Qcow2Snapshot.ReadTable(file, header, fileLength, path, out long snapshotBytes);
            string? dataPath = null;
            if (header.HasDataFile)
            {
                if (header.DataFile is null)
                {
                    throw new ImageException(ImageErrorKind.InvalidField, path, "data file", "the external data file bit is set but no data file name is stored");
                }
                dataPath = BackingPath.Resolve(path, header.DataFile);
                if (!File.Exists(dataPath) && File.Exists(header.DataFile))
                {
                    // qemu 7.2 opens a relative data file name from the current directory; accept that too.
                    dataPath = header.DataFile;
                }
                if (!File.Exists(dataPath))
                {
                    throw new ImageException(ImageErrorKind.InvalidField, path, "data file", $"external data file '{dataPath}' does not exist");
                }
                data = File.OpenHandle(dataPath, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite, FileShare.ReadWrite);
            }
            string? full = header.BackingFile is null ? null : BackingPath.Resolve(path, header.BackingFile);
            if (full is not null && openBacking is not null)
            {
                ImageFormat backingFormat = header.BackingFormat is null ? ImageFormat.Auto : ImageFormatNames.Parse(header.BackingFormat);
                backing = openBacking(full, backingFormat);
            }
            var image = new Qcow2Image(path, file, data ?? file, dataPath, header, l1, snapshots, backing, full, readOnly, fileLength) { _snapshotTableBytes = snapshotBytes, _cache = options.Cache };
            if (!readOnly)
            {
                image.PrepareForWriting(options);
            }
            return image;
        }
        catch
        {
            backing?.Dispose();
            data?.Dispose();
            file.Dispose();
            throw;
        }
    }

    private static ulong[] ReadL1(SafeFileHandle file, long offset, int entries)
    {
        byte[] raw = new byte[entries * 8L];
        Raw.HostFile.ReadFull(file, raw, offset);
        var l1 = new ulong[entries];
        for (int i = 0; i < entries; i++)
        {
            l1[i] = BinaryPrimitives.ReadUInt64BigEndian(raw.AsSpan(i * 8));
        }
        return l1;
    }

    private void PrepareForWriting(ImageOpenOptions options)
    {
        _refcounts = new Qcow2Refcounts(_file, _header, FilePath, _fileLength) { Cache = _cache };
        ulong unknownAutoclear = _header.AutoclearFeatures & ~(AutoclearDataFileRaw | AutoclearBitmaps);
        if (unknownAutoclear != 0)
        {
            // Auto-clear features we do not maintain: clear their bits before writing, as the spec requires.
            _header.AutoclearFeatures &= ~unknownAutoclear;
            WriteHeaderField(AutoclearFeaturesOffset, _header.AutoclearFeatures);
        }
        if ((_header.IncompatibleFeatures & IncompatDirty) != 0 && options.RepairDirty)
        {
            // Lazy refcounts left the image dirty: rebuild refcounts from the mapping before any write, as QEMU does.
            Check(CheckRepair.All);
            _header.IncompatibleFeatures &= ~IncompatDirty;
            WriteHeaderField(IncompatibleFeaturesOffset, _header.IncompatibleFeatures);
            Sync(_file);
        }
        _hasBitmaps = (_header.AutoclearFeatures & AutoclearBitmaps) != 0 && MarkBitmapsAllDirty();
    }

    /// <summary>
    /// Keeps persistent bitmaps valid without tracking writes: every enabled bitmap becomes all ones (everything dirty,
    /// which covers whatever we write; an incremental backup then copies everything) and its data clusters are freed.
    /// Disabled bitmaps record nothing and stay as they are. Returns whether the image has bitmaps.
    /// </summary>
    private bool MarkBitmapsAllDirty()
    {
        Qcow2Bitmaps? bitmaps = Qcow2Bitmaps.Read(_header, _file, _fileLength, FilePath);
        if (bitmaps is null)
        {
            return false;
        }
        int cs = _header.ClusterSize;
        var freed = new List<long>();
        foreach (Qcow2Bitmaps.Bitmap b in bitmaps.Items.Where(b => b.Enabled && !b.InUse))
        {
            ulong[] table = ReadTableRaw(b.TableOffset, (int)b.TableSize);
            if (Array.TrueForAll(table, e => e == Qcow2Bitmaps.AllOnes))
            {
                continue;
            }
            foreach (long data in Qcow2Bitmaps.DataClusters(table))
            {
                if (data % cs != 0 || data >= _fileLength)
                {
                    throw new ImageException(ImageErrorKind.InvalidField, FilePath, "bitmap table", $"bitmap '{b.Name}' points at 0x{data:x}, unaligned or past the end of the file");
                }
                freed.Add(data >> _geo.ClusterBits);
            }
            Array.Fill(table, Qcow2Bitmaps.AllOnes);
            byte[] ones = new byte[table.Length * 8L];
            Qcow2Tables.Encode(table, ones);
            RandomAccess.Write(_file, ones, b.TableOffset);
        }
        if (freed.Count > 0)
        {
            // The tables no longer point at the data clusters before their refcounts drop: a crash in between leaks.
            Sync(_file);
            foreach (long cluster in freed)
            {
                _refcounts!.Add(cluster, -1);
            }
            _refcounts!.WriteDirty();
            Sync(_file);
        }
        return true;
    }

    private void Sync(Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        if (_cache == CacheMode.Writeback)
        {
            RandomAccess.FlushToDisk(handle);
        }
    }

    private void WriteHeaderField(int offset, ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(b, value);
        RandomAccess.Write(_file, b, offset);
    }

    // ---- mapping lookups ----

    /// <summary>The L2 entry (and subcluster bitmap) for a guest cluster; zeroes when unallocated.</summary>
    private (ulong Entry, ulong Bitmap) LookupLocked(long guestCluster)
    {
        long l1Index = guestCluster >> _geo.L2Bits;
        if (l1Index >= _l1.Length)
        {
            return (0, 0);
        }
        ulong[]? table = GetL2Locked(l1Index);
        if (table is null)
        {
            return (0, 0);
        }
        int i = (int)(guestCluster & (_geo.L2Entries - 1));
        return _geo.ExtendedL2 ? (table[2 * i], table[(2 * i) + 1]) : (table[i], 0);
    }

    private ulong[]? GetL2Locked(long l1Index)
    {
        ulong l1e = _l1[l1Index];
        long offset = Qcow2Geometry.HostOffset(l1e);
        if (offset == 0)
        {
            return null;
        }
        if (_l2Cache.TryGetValue(offset, out ulong[]? table))
        {
            return table;
        }
        if (offset % _header.ClusterSize != 0 || offset > _fileLength - _header.ClusterSize)
        {
            throw new ImageException(ImageErrorKind.Corrupt, FilePath, $"L1 entry {l1Index}", $"L2 table offset 0x{offset:x} is unaligned or past the end of the file");
        }
        EvictIfNeededLocked();
        byte[] raw = ArrayPool<byte>.Shared.Rent(_header.ClusterSize);
        try
        {
            Raw.HostFile.ReadFull(_file, raw.AsSpan(0, _header.ClusterSize), offset);
            table = new ulong[_header.ClusterSize / 8];
            for (int i = 0; i < table.Length; i++)
            {
                table[i] = BinaryPrimitives.ReadUInt64BigEndian(raw.AsSpan(i * 8));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(raw);
        }
        _l2Cache[offset] = table;
        return table;
    }

    private void EvictIfNeededLocked()
    {
        if ((long)_l2Cache.Count * _header.ClusterSize < L2CacheBytes)
        {
            return;
        }
        // Dirty tables may only reach the disk after the refcounts they depend on: flush everything in order, then drop.
        FlushMetadataLocked();
        _l2Cache.Clear();
    }

    private void ValidateEntry(ulong entry, long guestCluster)
    {
        if ((entry & FlagCompressed) != 0)
        {
            if (_header.HasDataFile)
            {
                throw new ImageException(ImageErrorKind.Corrupt, FilePath, $"L2 entry for guest cluster {guestCluster}", "compressed cluster in an image with an external data file");
            }
            (long off, int len) = _geo.Compressed(entry);
            if (off <= 0 || off >= _fileLength || len > 2 * _header.ClusterSize + 512)
            {
                throw new ImageException(ImageErrorKind.Corrupt, FilePath, $"L2 entry for guest cluster {guestCluster}", $"compressed cluster descriptor 0x{entry:x16} is out of range");
            }
            return;
        }
        long host = Qcow2Geometry.HostOffset(entry);
        if (host % _header.ClusterSize != 0)
        {
            throw new ImageException(ImageErrorKind.Corrupt, FilePath, $"L2 entry for guest cluster {guestCluster}", $"host offset 0x{host:x} is not cluster aligned");
        }
        if (host == 0 && (entry & FlagCopied) != 0 && !_header.HasDataFile && (entry & FlagZero) == 0)
        {
            throw new ImageException(ImageErrorKind.Corrupt, FilePath, $"L2 entry for guest cluster {guestCluster}", "data cluster points at the header");
        }
    }

    // ---- reads ----

    /// <inheritdoc />
    public void Read(long offset, Span<byte> destination)
    {
        CheckRange(offset, destination.Length);
        int cs = _header.ClusterSize;
        while (!destination.IsEmpty)
        {
            long gc = offset >> _geo.ClusterBits;
            int inCluster = (int)(offset & (cs - 1));
            int n = Math.Min(cs - inCluster, destination.Length);
            ulong entry, bitmap;
            int extra = 0;
            lock (_lock)
            {
                (entry, bitmap) = LookupLocked(gc);
                if (n < destination.Length && IsPlainData(entry, bitmap))
                {
                    extra = ContiguousAfterLocked(gc, entry, (destination.Length - n + cs - 1) / cs);
                }
            }
            if (extra > 0)
            {
                // Clusters stored back to back on the host: one read instead of one per cluster.
                ValidateEntry(entry, gc);
                n = (int)Math.Min(destination.Length, n + ((long)extra * cs));
                Raw.HostFile.ReadFull(_data, destination[..n], Qcow2Geometry.HostOffset(entry) + inCluster);
                destination = destination[n..];
                offset += n;
                continue;
            }
            ReadFromEntry(gc, entry, bitmap, inCluster, destination[..n]);
            destination = destination[n..];
            offset += n;
        }
    }

    private bool IsPlainData(ulong entry, ulong bitmap)
        => (entry & (FlagCompressed | FlagZero)) == 0 && Qcow2Geometry.HostOffset(entry) != 0
            && (!_geo.ExtendedL2 || (bitmap & SubclusterAllocMask) == SubclusterAllocMask);

    // How many clusters after gc (at most max) map to the host clusters right after gc's, as plain data.
    private int ContiguousAfterLocked(long gc, ulong entry, int max)
    {
        long host = Qcow2Geometry.HostOffset(entry);
        int k = 0;
        while (k < max && ((gc + k + 1) << _geo.ClusterBits) < VirtualSize)
        {
            (ulong e, ulong b) = LookupLocked(gc + k + 1);
            if (!IsPlainData(e, b) || Qcow2Geometry.HostOffset(e) != host + ((long)(k + 1) << _geo.ClusterBits))
            {
                break;
            }
            k++;
        }
        return k;
    }

    private void ReadFromEntry(long gc, ulong entry, ulong bitmap, int inCluster, Span<byte> destination)
    {
        ValidateEntry(entry, gc);
        long guestBase = gc << _geo.ClusterBits;
        if ((entry & FlagCompressed) != 0)
        {
            byte[] cluster = ArrayPool<byte>.Shared.Rent(_header.ClusterSize);
            try
            {
                Decompress(entry, gc, cluster.AsSpan(0, _header.ClusterSize));
                cluster.AsSpan(inCluster, destination.Length).CopyTo(destination);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(cluster);
            }
            return;
        }
        int sub = _geo.SubclusterSize;
        while (!destination.IsEmpty)
        {
            int s = inCluster / sub;
            ClusterState state = Qcow2Geometry.State(entry, bitmap, s, _geo.ExtendedL2);
            int runEnd = (s + 1) * sub;
            while (_geo.ExtendedL2 && runEnd < _header.ClusterSize && Qcow2Geometry.State(entry, bitmap, runEnd / sub, extended: true) == state)
            {
                runEnd += sub;
            }
            int n = Math.Min(runEnd - inCluster, destination.Length);
            Span<byte> part = destination[..n];
            switch (state)
            {
                case ClusterState.Normal:
                    if (_geo.ExtendedL2 && ((bitmap >> 32) & (bitmap & SubclusterAllocMask)) != 0)
                    {
                        throw new ImageException(ImageErrorKind.Corrupt, FilePath, $"L2 entry for guest cluster {gc}", "subcluster is both allocated and zero");
                    }
                    Raw.HostFile.ReadFull(_data, part, Qcow2Geometry.HostOffset(entry) + inCluster);
                    break;
                case ClusterState.Zero:
                    part.Clear();
                    break;
                default:
                    ReadBacking(guestBase + inCluster, part);
                    break;
            }
            destination = destination[n..];
            inCluster += n;
        }
    }

    private void ReadBacking(long offset, Span<byte> destination)
    {
        if (_backing is null || offset >= _backing.VirtualSize)
        {
            destination.Clear();
            return;
        }
        int n = (int)Math.Min(destination.Length, _backing.VirtualSize - offset);
        _backing.Read(offset, destination[..n]);
        destination[n..].Clear();
    }

    private void Decompress(ulong entry, long gc, Span<byte> cluster)
    {
        (long off, int len) = _geo.Compressed(entry);
        byte[] compressed = ArrayPool<byte>.Shared.Rent(len);
        try
        {
            Raw.HostFile.ReadFull(_file, compressed.AsSpan(0, len), off);
            if (!Qcow2Compression.Decompress(_header.CompressionType, compressed.AsSpan(0, len), cluster))
            {
                throw new ImageException(ImageErrorKind.Corrupt, FilePath, $"compressed cluster for guest cluster {gc}", "data does not decompress to a full cluster");
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(compressed);
        }
    }

    /// <inheritdoc />
    public ImageExtent GetExtent(long offset, long length)
    {
        CheckRange(offset, length);
        if (length == 0)
        {
            return new ImageExtent(offset, 0, ExtentKind.Unallocated, null, -1);
        }
        long end = offset + length;
        ImageExtent? first = null;
        long pos = offset;
        while (pos < end)
        {
            long gc = pos >> _geo.ClusterBits;
            ulong entry, bitmap;
            bool noL2;
            lock (_lock)
            {
                long l1Index = gc >> _geo.L2Bits;
                noL2 = l1Index >= _l1.Length || Qcow2Geometry.HostOffset(_l1[l1Index]) == 0;
                (entry, bitmap) = noL2 ? (0UL, 0UL) : LookupLocked(gc);
            }
            if (noL2)
            {
                // No L2 table: the whole range it would map is unallocated, without touching anything else.
                long spanEnd = ((gc >> _geo.L2Bits) + 1) << (_geo.L2Bits + _geo.ClusterBits);
                long n = Math.Min(spanEnd, end) - pos;
                if (first is null)
                {
                    first = new ImageExtent(pos, n, ExtentKind.Unallocated, null, -1);
                }
                else if (first.Value.Kind == ExtentKind.Unallocated)
                {
                    first = first.Value with { Length = first.Value.Length + n };
                }
                else
                {
                    break;
                }
                pos += n;
                continue;
            }
            ValidateEntry(entry, gc);
            int inCluster = (int)(pos & (_header.ClusterSize - 1));
            int sub = _geo.SubclusterSize;
            ClusterState state = Qcow2Geometry.State(entry, bitmap, inCluster / sub, _geo.ExtendedL2);
            int stop = (inCluster / sub + 1) * sub;
            while (_geo.ExtendedL2 && state != ClusterState.Compressed && stop < _header.ClusterSize && Qcow2Geometry.State(entry, bitmap, stop / sub, extended: true) == state)
            {
                stop += sub;
            }
            if (state == ClusterState.Compressed)
            {
                stop = _header.ClusterSize;
            }
            long runLength = Math.Min(stop - inCluster, end - pos);
            ExtentKind kind = state switch
            {
                ClusterState.Normal or ClusterState.Compressed => ExtentKind.Data,
                ClusterState.Zero => ExtentKind.Zero,
                _ => ExtentKind.Unallocated,
            };
            bool compressed = state == ClusterState.Compressed;
            // A preallocated zero cluster (or zero subcluster of an allocated cluster) keeps its address: qemu-img map prints it.
            bool addressed = state == ClusterState.Normal || (state == ClusterState.Zero && Qcow2Geometry.HostOffset(entry) != 0);
            long host = addressed ? Qcow2Geometry.HostOffset(entry) + inCluster : -1;
            string? hostFile = addressed ? _dataPath ?? FilePath : null;
            if (first is null)
            {
                first = new ImageExtent(pos, runLength, kind, hostFile, host) { Compressed = compressed };
            }
            else
            {
                ImageExtent f = first.Value;
                bool contiguous = f.Kind == kind && f.Compressed == compressed && f.HostFile == hostFile
                    && (host < 0 ? f.HostOffset < 0 : f.HostOffset + f.Length == host);
                if (!contiguous)
                {
                    break;
                }
                first = f with { Length = f.Length + runLength };
            }
            pos += runLength;
        }
        return first!.Value;
    }

    private void CheckRange(long offset, long length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (offset < 0 || length < 0 || offset > VirtualSize - length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"range {offset}+{length} is outside the {VirtualSize}-byte disk");
        }
    }

    private void ThrowIfReadOnly()
    {
        if (IsReadOnly || _refcounts is null)
        {
            throw new ImageException(ImageErrorKind.ReadOnly, FilePath, null, "image is opened read-only");
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        try
        {
            if (!IsReadOnly)
            {
                lock (_lock)
                {
                    FlushMetadataLocked();
                    MarkCleanLocked();
                }
            }
        }
        finally
        {
            _disposed = true;
            if (_ownsBacking)
            {
                _backing?.Dispose();
            }
            if (!ReferenceEquals(_data, _file))
            {
                _data.Dispose();
            }
            _file.Dispose();
        }
    }
}
