using Microsoft.Win32.SafeHandles;
using VirtioScope.Block;
using VirtioScope.Images.Raw;

namespace VirtioScope.Images.Vmdk;

/// <summary>
/// A VMDK image: monolithicSparse (hosted sparse extent, header versions 1 to 3, readable and writable),
/// streamOptimized (compressed grains with markers), and descriptor files naming FLAT, SPARSE and ZERO extents
/// (monolithicFlat, twoGbMaxExtentSparse, twoGbMaxExtentFlat, vmfs), the last two kinds read-only.
/// </summary>
public sealed class VmdkImage : IDiskImage, IImageDetails, ICheckableImage
{
    private readonly VmdkExtent[] _extents;
    private readonly long[] _starts;
    private readonly string _createType;
    private readonly string[] _extentTypes;
    private readonly uint _cid;
    private readonly uint _parentCid;

    private VmdkImage(string path, VmdkExtent[] extents, string[] extentTypes, string createType, uint cid, uint parentCid)
    {
        FilePath = path;
        _extents = extents;
        _extentTypes = extentTypes;
        _createType = createType;
        _cid = cid;
        _parentCid = parentCid;
        _starts = new long[extents.Length];
        long pos = 0;
        for (int i = 0; i < extents.Length; i++)
        {
            _starts[i] = pos;
            pos += extents[i].Length;
        }
        VirtualSize = pos;
    }

    /// <inheritdoc />
    public string FilePath { get; }

    /// <inheritdoc />
    public ImageFormat Format => ImageFormat.Vmdk;

    /// <inheritdoc />
    public long VirtualSize { get; }

    /// <inheritdoc />
    public bool IsReadOnly { get; private init; } = true;

    /// <inheritdoc />
    public IDiskImage? Backing => null;

    /// <inheritdoc />
    public long ActualSize
    {
        get
        {
            long total = HostFile.AllocatedBytes(FilePath);
            foreach (string p in _extents.Select(e => e.HostPath).OfType<string>().Distinct().Where(p => p != FilePath))
            {
                total += HostFile.AllocatedBytes(p);
            }
            return total;
        }
    }

    /// <inheritdoc />
    public int? ClusterSize => _extents.OfType<VmdkSparseExtent>().Select(e => (int?)(e.Header.GrainSectors * 512)).FirstOrDefault();

    /// <inheritdoc />
    public bool? DirtyFlag => null;

    /// <inheritdoc />
    public string? BackingFileName => null;

    /// <inheritdoc />
    public string? FullBackingFileName => null;

    /// <inheritdoc />
    public string? BackingFormat => null;

    /// <inheritdoc />
    public IReadOnlyList<KeyValuePair<string, object>> FormatSpecific =>
    [
        new("cid", (long)_cid),
        new("parent-cid", (long)_parentCid),
        new("create-type", _createType),
        new("extents", ExtentDetails()),
    ];

    /// <summary>qemu-img's per-extent details: compressed (only when true), virtual size, file, grain size (sparse only), extent type.</summary>
    private List<IReadOnlyList<KeyValuePair<string, object>>> ExtentDetails()
    {
        var list = new List<IReadOnlyList<KeyValuePair<string, object>>>();
        for (int i = 0; i < _extents.Length; i++)
        {
            if (_extents[i].HostPath is not { } host)
            {
                continue;
            }
            var d = new List<KeyValuePair<string, object>>();
            var sparse = _extents[i] as VmdkSparseExtent;
            if (sparse?.Header.Compressed == true)
            {
                d.Add(new("compressed", true));
            }
            d.Add(new("virtual-size", _extents[i].Length));
            d.Add(new("filename", host));
            if (sparse is not null)
            {
                d.Add(new("cluster-size", (int)(sparse.Header.GrainSectors * 512)));
            }
            d.Add(new("format", _extentTypes[i]));
            list.Add(d);
        }
        return list;
    }

    /// <inheritdoc />
    public CheckReport Check(CheckRepair repair)
    {
        var report = new CheckReport { HasAllocationCounts = false };
        for (int i = 0; i < _extents.Length; i++)
        {
            if (_extents[i] is VmdkSparseExtent sparse)
            {
                sparse.Check(report, _starts[i] / 512);
            }
        }
        return report;
    }

    /// <summary>Opens a VMDK (a sparse extent file or a descriptor file); only a monolithicSparse file opens read-write.</summary>
    internal static VmdkImage Open(string path, bool readOnly)
    {
        SafeFileHandle file = File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite, FileShare.ReadWrite);
        var extents = new List<VmdkExtent>();
        try
        {
            long length = RandomAccess.GetLength(file);
            Span<byte> head = stackalloc byte[4];
            HostFile.ReadFull(file, head, 0);
            if (VmdkSparseHeader.HasMagic(head))
            {
                VmdkSparseExtent sparse = VmdkSparseExtent.Open(path, file, -1);
                extents.Add(sparse);
                VmdkDescriptor? embedded = EmbeddedDescriptor(file, sparse.Header, length, path);
                string createType = embedded?.CreateType ?? (sparse.Header.Compressed ? "streamOptimized" : "monolithicSparse");
                if (!readOnly && !sparse.Writable)
                {
                    throw new ImageException(ImageErrorKind.UnsupportedFeature, path, "format", "a streamOptimized VMDK can only be opened read-only (it is written once, by convert)");
                }
                // The extent of a monolithic file has no type line of its own: qemu-img shows an empty format.
                return new VmdkImage(path, [.. extents], [""], createType, embedded?.Cid ?? 0, embedded?.ParentCid ?? uint.MaxValue) { IsReadOnly = readOnly };
            }
            if (length > VmdkDescriptor.MaxBytes)
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, "descriptor", $"a {length}-byte descriptor file exceeds {VmdkDescriptor.MaxBytes} bytes");
            }
            if (!readOnly)
            {
                throw new ImageException(ImageErrorKind.UnsupportedFeature, path, "format", "only monolithicSparse VMDK images can be opened read-write");
            }
            byte[] text = new byte[length];
            HostFile.ReadFull(file, text, 0);
            file.Dispose();
            VmdkDescriptor d = VmdkDescriptor.Parse(text, path);
            if (d.ParentFileName is not null)
            {
                throw new ImageException(ImageErrorKind.UnsupportedFeature, path, "parentFileNameHint", "VMDK differencing disks (a parent link) are not supported");
            }
            long total = 0;
            foreach (VmdkExtentLine line in d.Extents)
            {
                if (line.Sectors > (long.MaxValue / 512) - total)
                {
                    throw new ImageException(ImageErrorKind.InvalidField, path, "extent", "extent sizes overflow the disk size");
                }
                total += line.Sectors;
                extents.Add(OpenExtent(path, line));
            }
            if (extents.Count == 0)
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, "extent", "descriptor names no extents");
            }
            return new VmdkImage(path, [.. extents], [.. d.Extents.Select(x => x.Type)], d.CreateType, d.Cid, d.ParentCid);
        }
        catch
        {
            foreach (VmdkExtent e in extents)
            {
                e.Dispose();
            }
            file.Dispose();
            throw;
        }
    }

    private static VmdkDescriptor? EmbeddedDescriptor(SafeFileHandle file, VmdkSparseHeader header, long length, string path)
    {
        long at = header.DescriptorSector * 512;
        long size = header.DescriptorSectors * 512;
        if (header.DescriptorSector <= 0 || size <= 0 || size > VmdkDescriptor.MaxBytes || at > length - size)
        {
            return null;
        }
        byte[] text = new byte[size];
        HostFile.ReadFull(file, text, at);
        return VmdkDescriptor.Parse(text, path);
    }

    private static VmdkExtent OpenExtent(string descriptorPath, VmdkExtentLine line)
    {
        if (line.Type == "ZERO")
        {
            return new VmdkZeroExtent { Length = line.Sectors * 512 };
        }
        string name = line.FileName!;
        if (name.Contains('\0', StringComparison.Ordinal))
        {
            throw new ImageException(ImageErrorKind.InvalidField, descriptorPath, "extent file", "file name contains NUL");
        }
        string full = BackingPath.Resolve(descriptorPath, name);
        if (!File.Exists(full))
        {
            throw new ImageException(ImageErrorKind.InvalidField, descriptorPath, "extent file", $"extent file '{full}' does not exist");
        }
        SafeFileHandle handle = File.OpenHandle(full, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        try
        {
            switch (line.Type)
            {
                case "FLAT":
                case "VMFS":
                    return new VmdkFlatExtent(full, handle, line.OffsetSectors * 512) { Length = line.Sectors * 512 };
                case "SPARSE":
                    return VmdkSparseExtent.Open(full, handle, line.Sectors);
                default:
                    throw new ImageException(ImageErrorKind.UnsupportedFeature, descriptorPath, "extent type", $"extent type '{line.Type}' is not supported");
            }
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private int ExtentAt(long offset)
    {
        int i = Array.BinarySearch(_starts, offset);
        if (i < 0)
        {
            i = ~i - 1;
        }
        // Zero-length extents share a start with the next one; skip to the one that holds the byte.
        while (i < _extents.Length - 1 && offset >= _starts[i] + _extents[i].Length)
        {
            i++;
        }
        return i;
    }

    /// <inheritdoc />
    public void Read(long offset, Span<byte> destination)
    {
        CheckRange(offset, destination.Length);
        while (!destination.IsEmpty)
        {
            int i = ExtentAt(offset);
            long inExtent = offset - _starts[i];
            int n = (int)Math.Min(destination.Length, _extents[i].Length - inExtent);
            _extents[i].Read(inExtent, destination[..n]);
            destination = destination[n..];
            offset += n;
        }
    }

    /// <inheritdoc />
    public ImageExtent GetExtent(long offset, long length)
    {
        CheckRange(offset, length);
        int i = ExtentAt(offset);
        long inExtent = offset - _starts[i];
        ImageExtent e = _extents[i].GetExtent(inExtent, Math.Min(length, _extents[i].Length - inExtent));
        return e with { Offset = offset };
    }

    /// <inheritdoc />
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        CheckRange(offset, source.Length);
        Writable().Write(offset, source);
    }

    /// <inheritdoc />
    public void Flush()
    {
        if (!IsReadOnly)
        {
            Writable().Flush();
        }
    }

    /// <inheritdoc />
    public void Discard(long offset, long length)
    {
        // A hosted sparse extent cannot give grains back; discard is a hint, so the data stays.
        CheckRange(offset, length);
        Writable();
    }

    /// <inheritdoc />
    public void WriteZeroes(long offset, long length, ZeroingMode mode)
    {
        CheckRange(offset, length);
        Writable().WriteZeroes(offset, length, ZeroBuffer);
    }

    private static readonly byte[] ZeroBuffer = new byte[1 << 16];

    /// <summary>The one extent of a read-write open (a monolithicSparse file).</summary>
    private VmdkSparseExtent Writable() => IsReadOnly
        ? throw new ImageException(ImageErrorKind.ReadOnly, FilePath, null, "image is opened read-only")
        : (VmdkSparseExtent)_extents[0];

    /// <summary>Creates a monolithicSparse (the default) or streamOptimized VMDK and returns it opened for writing.</summary>
    internal static IDiskImage Create(string path, ImageCreateOptions options, long size)
    {
        switch (options.Subformat ?? "monolithicSparse")
        {
            case "monolithicSparse":
                if (size <= 0)
                {
                    throw new ImageException(ImageErrorKind.InvalidOption, path, "size", "must be positive");
                }
                VmdkSparseExtent.CreateMonolithic(path, (size + 511) / 512);
                return Open(path, readOnly: false);
            case "streamOptimized":
                return VmdkStreamWriter.Create(path, size);
            default:
                throw new ImageException(ImageErrorKind.InvalidOption, path, "subformat", $"writing VMDK supports subformat=monolithicSparse and streamOptimized, not '{options.Subformat}'");
        }
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
        foreach (VmdkExtent e in _extents)
        {
            e.Dispose();
        }
    }
}
