using System.Buffers.Binary;
using System.Text;
using static VirtioScope.Images.Qcow2.Qcow2Layout;

namespace VirtioScope.Images.Qcow2;

/// <summary>A header extension kept verbatim so unknown ones survive a header rewrite.</summary>
internal sealed record Qcow2HeaderExtension(uint Type, byte[] Data);

/// <summary>
/// The parsed and range-checked qcow2 header with its extensions. Parsing never trusts a field: each one is checked
/// against the file length and QEMU's limits before anything is sized from it.
/// </summary>
internal sealed class Qcow2Header
{
    public int Version { get; set; }
    public ulong BackingFileOffset { get; set; }
    public uint BackingFileSize { get; set; }
    public int ClusterBits { get; set; }
    public long SizeField;
    public long Size { get => SizeField; set => SizeField = value; }
    public uint CryptMethod { get; set; }
    public int L1Size { get; set; }
    public long L1TableOffset { get; set; }
    public long RefcountTableOffset { get; set; }
    public int RefcountTableClusters { get; set; }
    public int NbSnapshots { get; set; }
    public long SnapshotsOffset { get; set; }
    public ulong IncompatibleFeatures { get; set; }
    public ulong CompatibleFeatures { get; set; }
    public ulong AutoclearFeatures { get; set; }
    public int RefcountOrder { get; set; } = 4;
    public int HeaderLength { get; set; }
    public CompressionType CompressionType { get; set; }
    public string? BackingFile { get; set; }
    public string? BackingFormat { get; set; }
    public string? DataFile { get; set; }
    public List<Qcow2HeaderExtension> Extensions { get; } = [];
    public Dictionary<(int Type, int Bit), string> FeatureNames { get; } = [];

    public int ClusterSize => 1 << ClusterBits;

    public Qcow2Header Clone() => (Qcow2Header)MemberwiseClone();
    public bool ExtendedL2 => (IncompatibleFeatures & IncompatExtendedL2) != 0;
    public bool HasDataFile => (IncompatibleFeatures & IncompatDataFile) != 0;
    public int RefcountBits => 1 << RefcountOrder;

    /// <summary>Parses the header from the first cluster (or less, for tiny corrupt files) of <paramref name="path"/>.</summary>
    public static Qcow2Header Parse(ReadOnlySpan<byte> buf, long fileLength, string path)
    {
        ImageException Bad(string field, string detail) => new(ImageErrorKind.InvalidField, path, field, detail);

        if (buf.Length < V2HeaderLength)
        {
            throw Bad("header", $"file is too short for a qcow2 header ({buf.Length} bytes)");
        }
        if (BinaryPrimitives.ReadUInt32BigEndian(buf[MagicOffset..]) != Magic)
        {
            throw Bad("magic", "not a qcow2 image");
        }
        var h = new Qcow2Header();
        uint version = BinaryPrimitives.ReadUInt32BigEndian(buf[VersionOffset..]);
        if (version is not (2 or 3))
        {
            throw new ImageException(ImageErrorKind.UnsupportedFeature, path, "version", $"qcow2 version {version} is not supported (2 and 3 are)");
        }
        h.Version = (int)version;
        h.BackingFileOffset = BinaryPrimitives.ReadUInt64BigEndian(buf[BackingFileOffsetOffset..]);
        h.BackingFileSize = BinaryPrimitives.ReadUInt32BigEndian(buf[BackingFileSizeOffset..]);
        uint clusterBits = BinaryPrimitives.ReadUInt32BigEndian(buf[ClusterBitsOffset..]);
        if (clusterBits is < MinClusterBits or > MaxClusterBits)
        {
            throw Bad("cluster_bits", $"{clusterBits} is out of range (cluster size must be 512 B to 2 MiB)");
        }
        h.ClusterBits = (int)clusterBits;
        ulong size = BinaryPrimitives.ReadUInt64BigEndian(buf[SizeOffset..]);
        if (size > (1UL << 62))
        {
            throw Bad("size", $"virtual size {size} is too large");
        }
        h.Size = (long)size;
        h.CryptMethod = BinaryPrimitives.ReadUInt32BigEndian(buf[CryptMethodOffset..]);
        uint l1Size = BinaryPrimitives.ReadUInt32BigEndian(buf[L1SizeOffset..]);
        if ((long)l1Size * 8 > MaxL1Bytes)
        {
            throw Bad("l1_size", $"L1 table of {l1Size} entries exceeds the 32 MiB limit");
        }
        h.L1Size = (int)l1Size;
        h.L1TableOffset = (long)BinaryPrimitives.ReadUInt64BigEndian(buf[L1TableOffsetOffset..]);
        h.RefcountTableOffset = (long)BinaryPrimitives.ReadUInt64BigEndian(buf[RefcountTableOffsetOffset..]);
        uint rtClusters = BinaryPrimitives.ReadUInt32BigEndian(buf[RefcountTableClustersOffset..]);
        if ((long)rtClusters << h.ClusterBits > MaxRefcountTableBytes)
        {
            throw Bad("refcount_table_clusters", $"refcount table of {rtClusters} clusters exceeds the 8 MiB limit");
        }
        if (rtClusters == 0)
        {
            throw Bad("refcount_table_clusters", "must not be zero");
        }
        h.RefcountTableClusters = (int)rtClusters;
        uint nbSnapshots = BinaryPrimitives.ReadUInt32BigEndian(buf[NbSnapshotsOffset..]);
        if (nbSnapshots > MaxSnapshots)
        {
            throw Bad("nb_snapshots", $"{nbSnapshots} snapshots exceed the limit of {MaxSnapshots}");
        }
        h.NbSnapshots = (int)nbSnapshots;
        h.SnapshotsOffset = (long)BinaryPrimitives.ReadUInt64BigEndian(buf[SnapshotsOffsetOffset..]);

        if (h.Version == 2)
        {
            h.HeaderLength = V2HeaderLength;
        }
        else
        {
            if (buf.Length < V3MinHeaderLength)
            {
                throw Bad("header_length", "file is too short for a version 3 header");
            }
            h.IncompatibleFeatures = BinaryPrimitives.ReadUInt64BigEndian(buf[IncompatibleFeaturesOffset..]);
            h.CompatibleFeatures = BinaryPrimitives.ReadUInt64BigEndian(buf[CompatibleFeaturesOffset..]);
            h.AutoclearFeatures = BinaryPrimitives.ReadUInt64BigEndian(buf[AutoclearFeaturesOffset..]);
            uint refcountOrder = BinaryPrimitives.ReadUInt32BigEndian(buf[RefcountOrderOffset..]);
            if (refcountOrder > 6)
            {
                throw Bad("refcount_order", $"{refcountOrder} is out of range (0 to 6)");
            }
            h.RefcountOrder = (int)refcountOrder;
            uint headerLength = BinaryPrimitives.ReadUInt32BigEndian(buf[HeaderLengthOffset..]);
            if (headerLength < V3MinHeaderLength || headerLength % 8 != 0 || headerLength > h.ClusterSize || headerLength > buf.Length)
            {
                throw Bad("header_length", $"{headerLength} is invalid (at least 104, a multiple of 8, within the first cluster)");
            }
            h.HeaderLength = (int)headerLength;
            if (headerLength > CompressionTypeOffset)
            {
                byte ct = buf[CompressionTypeOffset];
                if (ct > 1)
                {
                    throw new ImageException(ImageErrorKind.UnsupportedFeature, path, "compression_type", $"unknown compression type {ct}");
                }
                h.CompressionType = (CompressionType)ct;
            }
            if (((h.IncompatibleFeatures & IncompatCompression) != 0) != (h.CompressionType != CompressionType.Zlib))
            {
                throw Bad("compression_type", "does not match the compression type feature bit");
            }
        }

        h.ParseExtensions(buf, path);
        ulong unknown = h.IncompatibleFeatures & ~IncompatKnown;
        if (unknown != 0)
        {
            var names = new List<string>();
            for (int bit = 0; bit < 64; bit++)
            {
                if ((unknown & (1UL << bit)) != 0)
                {
                    names.Add(h.FeatureNames.TryGetValue((0, bit), out string? n) ? n : $"bit {bit}");
                }
            }
            throw new ImageException(ImageErrorKind.UnsupportedFeature, path, "incompatible_features", "unsupported features: " + string.Join(", ", names));
        }
        if (h.CryptMethod != 0)
        {
            throw new ImageException(ImageErrorKind.UnsupportedFeature, path, "crypt_method", $"encryption method {h.CryptMethod} is not supported");
        }
        if (h.ExtendedL2 && h.ClusterBits < MinExtendedL2ClusterBits)
        {
            throw Bad("cluster_bits", "extended L2 entries need clusters of at least 16 KiB");
        }
        h.ValidateTables(fileLength, path);
        h.ParseBackingName(buf, path);
        return h;
    }

    private void ParseExtensions(ReadOnlySpan<byte> buf, string path)
    {
        int end = BackingFileOffset != 0 && BackingFileOffset < (ulong)buf.Length ? (int)BackingFileOffset : Math.Min(buf.Length, ClusterSize);
        int pos = HeaderLength;
        var seen = new HashSet<uint>();
        while (pos + 8 <= end)
        {
            uint type = BinaryPrimitives.ReadUInt32BigEndian(buf[pos..]);
            uint len = BinaryPrimitives.ReadUInt32BigEndian(buf[(pos + 4)..]);
            if (type == ExtEnd)
            {
                return;
            }
            pos += 8;
            if (len > (uint)(end - pos))
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, "header extension", $"extension 0x{type:x8} of {len} bytes runs past the header area");
            }
            if (!seen.Add(type))
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, "header extension", $"extension 0x{type:x8} appears twice");
            }
            ReadOnlySpan<byte> data = buf.Slice(pos, (int)len);
            switch (type)
            {
                case ExtBackingFormat:
                    BackingFormat = Encoding.UTF8.GetString(data);
                    break;
                case ExtDataFile:
                    DataFile = Encoding.UTF8.GetString(data);
                    break;
                case ExtFeatureTable:
                    for (int i = 0; i + FeatureTableEntrySize <= data.Length; i += FeatureTableEntrySize)
                    {
                        ReadOnlySpan<byte> name = data.Slice(i + 2, FeatureTableEntrySize - 2);
                        int nul = name.IndexOf((byte)0);
                        FeatureNames[(data[i], data[i + 1])] = Encoding.UTF8.GetString(nul < 0 ? name : name[..nul]);
                    }
                    break;
                case ExtCrypto:
                    throw new ImageException(ImageErrorKind.UnsupportedFeature, path, "header extension", "full disk encryption is not supported");
                default:
                    break;
            }
            Extensions.Add(new Qcow2HeaderExtension(type, data.ToArray()));
            pos += (int)((len + 7) & ~7u);
        }
    }

    private void ParseBackingName(ReadOnlySpan<byte> buf, string path)
    {
        if (BackingFileOffset == 0)
        {
            return;
        }
        if (BackingFileSize > MaxBackingFileSize || BackingFileSize == 0)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "backing_file_size", $"{BackingFileSize} is out of range (1 to 1023)");
        }
        if (BackingFileOffset + BackingFileSize > (ulong)Math.Min(buf.Length, ClusterSize))
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "backing_file_offset", "backing file name lies outside the first cluster");
        }
        if (HasDataFile && (AutoclearFeatures & AutoclearDataFileRaw) != 0)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "backing_file_offset", "a backing file conflicts with a raw external data file");
        }
        BackingFile = Encoding.UTF8.GetString(buf.Slice((int)BackingFileOffset, (int)BackingFileSize));
    }

    private void ValidateTables(long fileLength, string path)
    {
        long cs = ClusterSize;
        void CheckTable(string field, long offset, long bytes)
        {
            if (offset % cs != 0)
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, field, $"offset 0x{offset:x} is not aligned to the {cs}-byte cluster size");
            }
            if (offset <= 0 && bytes > 0)
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, field, "table overlaps the header");
            }
            if (bytes > 0 && (offset > fileLength || bytes > fileLength - offset))
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, field, $"table at 0x{offset:x} ({bytes} bytes) lies past the end of the file ({fileLength} bytes)");
            }
        }
        CheckTable("refcount_table_offset", RefcountTableOffset, (long)RefcountTableClusters * cs);
        CheckTable("l1_table_offset", L1TableOffset, (long)L1Size * 8);
        if (NbSnapshots > 0)
        {
            CheckTable("snapshots_offset", SnapshotsOffset, (long)NbSnapshots * SnapshotFixedSize);
        }
        long needed = RequiredL1Entries(Size, ClusterBits, ExtendedL2);
        if (L1Size < needed)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "l1_size", $"{L1Size} entries are too few for a {Size}-byte disk (need {needed})");
        }
        if (RangesOverlap(L1TableOffset, (long)L1Size * 8, RefcountTableOffset, (long)RefcountTableClusters * cs))
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "l1_table_offset", "L1 table overlaps the refcount table");
        }
    }

    public static bool RangesOverlap(long a, long aLen, long b, long bLen) => aLen > 0 && bLen > 0 && a < b + bLen && b < a + aLen;

    /// <summary>L1 entries needed to map <paramref name="size"/> bytes.</summary>
    public static long RequiredL1Entries(long size, int clusterBits, bool extendedL2)
    {
        int l2Bits = clusterBits - (extendedL2 ? 4 : 3);
        long clusters = (size + (1L << clusterBits) - 1) >> clusterBits;
        return (clusters + (1L << l2Bits) - 1) >> l2Bits;
    }

    /// <summary>Serialises the header, extensions and backing name into the first cluster (for create and header rewrites).</summary>
    public byte[] Serialize()
    {
        byte[] buf = new byte[ClusterSize];
        Span<byte> s = buf;
        BinaryPrimitives.WriteUInt32BigEndian(s[MagicOffset..], Magic);
        BinaryPrimitives.WriteUInt32BigEndian(s[VersionOffset..], (uint)Version);
        BinaryPrimitives.WriteUInt32BigEndian(s[ClusterBitsOffset..], (uint)ClusterBits);
        BinaryPrimitives.WriteUInt64BigEndian(s[SizeOffset..], (ulong)Size);
        BinaryPrimitives.WriteUInt32BigEndian(s[CryptMethodOffset..], CryptMethod);
        BinaryPrimitives.WriteUInt32BigEndian(s[L1SizeOffset..], (uint)L1Size);
        BinaryPrimitives.WriteUInt64BigEndian(s[L1TableOffsetOffset..], (ulong)L1TableOffset);
        BinaryPrimitives.WriteUInt64BigEndian(s[RefcountTableOffsetOffset..], (ulong)RefcountTableOffset);
        BinaryPrimitives.WriteUInt32BigEndian(s[RefcountTableClustersOffset..], (uint)RefcountTableClusters);
        BinaryPrimitives.WriteUInt32BigEndian(s[NbSnapshotsOffset..], (uint)NbSnapshots);
        BinaryPrimitives.WriteUInt64BigEndian(s[SnapshotsOffsetOffset..], (ulong)SnapshotsOffset);
        int pos = V2HeaderLength;
        if (Version >= 3)
        {
            HeaderLength = Math.Max(HeaderLength, V3HeaderLength);
            BinaryPrimitives.WriteUInt64BigEndian(s[IncompatibleFeaturesOffset..], IncompatibleFeatures);
            BinaryPrimitives.WriteUInt64BigEndian(s[CompatibleFeaturesOffset..], CompatibleFeatures);
            BinaryPrimitives.WriteUInt64BigEndian(s[AutoclearFeaturesOffset..], AutoclearFeatures);
            BinaryPrimitives.WriteUInt32BigEndian(s[RefcountOrderOffset..], (uint)RefcountOrder);
            BinaryPrimitives.WriteUInt32BigEndian(s[HeaderLengthOffset..], (uint)HeaderLength);
            s[CompressionTypeOffset] = (byte)CompressionType;
            pos = HeaderLength;
        }
        foreach (Qcow2HeaderExtension ext in Extensions)
        {
            pos = WriteExtension(s, pos, ext.Type, ext.Data);
        }
        pos += 8; // end-of-extensions marker (zeroes)
        if (BackingFile is not null)
        {
            byte[] name = Encoding.UTF8.GetBytes(BackingFile);
            if (pos + name.Length > buf.Length)
            {
                throw new ImageException(ImageErrorKind.InvalidOption, null, "backing file", "name does not fit into the first cluster");
            }
            name.CopyTo(s[pos..]);
            BinaryPrimitives.WriteUInt64BigEndian(s[BackingFileOffsetOffset..], (ulong)pos);
            BinaryPrimitives.WriteUInt32BigEndian(s[BackingFileSizeOffset..], (uint)name.Length);
        }
        return buf;
    }

    private static int WriteExtension(Span<byte> s, int pos, uint type, byte[] data)
    {
        int padded = (data.Length + 7) & ~7;
        if (pos + 8 + padded + 8 > s.Length)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, null, "header extension", "extensions do not fit into the first cluster");
        }
        BinaryPrimitives.WriteUInt32BigEndian(s[pos..], type);
        BinaryPrimitives.WriteUInt32BigEndian(s[(pos + 4)..], (uint)data.Length);
        data.CopyTo(s[(pos + 8)..]);
        return pos + 8 + padded;
    }

    /// <summary>Replaces or adds a string extension, keeping the others (known and unknown) in place.</summary>
    public void SetStringExtension(uint type, string? value)
    {
        int i = Extensions.FindIndex(e => e.Type == type);
        if (value is null)
        {
            if (i >= 0)
            {
                Extensions.RemoveAt(i);
            }
            return;
        }
        var ext = new Qcow2HeaderExtension(type, Encoding.UTF8.GetBytes(value));
        if (i >= 0)
        {
            Extensions[i] = ext;
        }
        else
        {
            Extensions.Add(ext);
        }
    }
}
