using System.Buffers.Binary;

namespace VirtioScope.Images.Vmdk;

/// <summary>
/// The 512-byte hosted sparse extent header ("KDMV", little-endian) of VMware's Virtual Disk Format 5.0,
/// versions 1 to 3. Offsets and sizes in the header count 512-byte sectors.
/// </summary>
internal sealed class VmdkSparseHeader
{
    public const int Size = 512;
    public const int MagicOffset = 0;
    public const int VersionOffset = 4;
    public const int FlagsOffset = 8;
    public const int CapacityOffset = 12;
    public const int GrainSizeOffset = 20;
    public const int DescriptorOffsetOffset = 28;
    public const int DescriptorSizeOffset = 36;
    public const int NumGtesPerGtOffset = 44;
    public const int RgdOffsetOffset = 48;
    public const int GdOffsetOffset = 56;
    public const int OverheadOffset = 64;
    public const int UncleanShutdownOffset = 72;
    public const int CompressAlgorithmOffset = 77;

    public const uint Magic = 0x564D444B; // "KDMV" read little-endian
    public const uint FlagValidNewlineTest = 0x1;
    public const uint FlagRedundantGd = 0x2;
    public const uint FlagZeroGrainGte = 0x4;
    public const uint FlagCompressed = 0x10000;
    public const uint FlagMarkers = 0x20000;
    public const ushort CompressionDeflate = 1;

    /// <summary>gdOffset value meaning "the real header is the footer near the end of the file" (streamOptimized).</summary>
    public const ulong GdAtEnd = ulong.MaxValue;

    /// <summary>QEMU's limits: at most 512 entries per grain table, grains up to 0x200000 sectors, a 512 MiB grain directory.</summary>
    public const uint MaxGtesPerGt = 512;
    public const long MaxGrainSectors = 0x200000;
    public const long MaxGdBytes = 512L * 1024 * 1024;

    /// <summary>This library's limit for compressed grains (the decompression buffer): 16 MiB.</summary>
    public const long MaxCompressedGrainSectors = 0x8000;

    public uint Version { get; private init; }

    public uint Flags { get; private init; }

    public long CapacitySectors { get; private init; }

    public long GrainSectors { get; private init; }

    public long DescriptorSector { get; private init; }

    public long DescriptorSectors { get; private init; }

    public int GtesPerGt { get; private init; }

    public long RgdSector { get; private init; }

    public ulong GdSector { get; private init; }

    public ushort CompressAlgorithm { get; private init; }

    public bool Compressed => (Flags & FlagCompressed) != 0;

    public bool ZeroGrains => (Flags & FlagZeroGrainGte) != 0;

    /// <summary>Whether <paramref name="bytes"/> starts with the sparse magic.</summary>
    public static bool HasMagic(ReadOnlySpan<byte> bytes) => bytes.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(bytes) == Magic;

    /// <summary>Parses the header and checks every field against QEMU's limits and the file length.</summary>
    public static VmdkSparseHeader Parse(ReadOnlySpan<byte> h, long fileLength, string path)
    {
        if (h.Length < Size || !HasMagic(h))
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "magic", "not a VMDK sparse extent (no 'KDMV')");
        }
        var header = new VmdkSparseHeader
        {
            Version = BinaryPrimitives.ReadUInt32LittleEndian(h[VersionOffset..]),
            Flags = BinaryPrimitives.ReadUInt32LittleEndian(h[FlagsOffset..]),
            CapacitySectors = BinaryPrimitives.ReadInt64LittleEndian(h[CapacityOffset..]),
            GrainSectors = BinaryPrimitives.ReadInt64LittleEndian(h[GrainSizeOffset..]),
            DescriptorSector = BinaryPrimitives.ReadInt64LittleEndian(h[DescriptorOffsetOffset..]),
            DescriptorSectors = BinaryPrimitives.ReadInt64LittleEndian(h[DescriptorSizeOffset..]),
            GtesPerGt = (int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32LittleEndian(h[NumGtesPerGtOffset..])),
            RgdSector = BinaryPrimitives.ReadInt64LittleEndian(h[RgdOffsetOffset..]),
            GdSector = BinaryPrimitives.ReadUInt64LittleEndian(h[GdOffsetOffset..]),
            CompressAlgorithm = BinaryPrimitives.ReadUInt16LittleEndian(h[CompressAlgorithmOffset..]),
        };
        if (header.Version is < 1 or > 3)
        {
            throw new ImageException(ImageErrorKind.UnsupportedFeature, path, "version", $"VMDK sparse version {header.Version} is not 1, 2 or 3");
        }
        if (header.GrainSectors <= 0 || header.GrainSectors > MaxGrainSectors || (header.GrainSectors & (header.GrainSectors - 1)) != 0)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "grain size", $"{header.GrainSectors} sectors is not a power of two up to {MaxGrainSectors} (invalid granularity)");
        }
        if (header.Compressed && header.GrainSectors > MaxCompressedGrainSectors)
        {
            throw new ImageException(ImageErrorKind.UnsupportedFeature, path, "grain size", $"compressed grains of {header.GrainSectors} sectors exceed {MaxCompressedGrainSectors}");
        }
        if (header.Compressed && header.CompressAlgorithm != CompressionDeflate)
        {
            throw new ImageException(ImageErrorKind.UnsupportedFeature, path, "compress algorithm", $"compression algorithm {header.CompressAlgorithm} is not deflate (1)");
        }
        if (header.GtesPerGt is <= 0 || header.GtesPerGt > MaxGtesPerGt)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "num GTEs per GT", $"{header.GtesPerGt} is not between 1 and {MaxGtesPerGt} (L2 table size too big)");
        }
        if (header.CapacitySectors < 0 || header.CapacitySectors > long.MaxValue / 512)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "capacity", $"{(ulong)header.CapacitySectors} sectors is too large");
        }
        if (header.GdEntries * 4L > MaxGdBytes)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "capacity", $"{header.GdEntries} grain directory entries: L1 size too big");
        }
        if (header.GdSector != GdAtEnd && header.GdSector > (ulong)(fileLength / 512))
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "gd offset", $"grain directory at sector {header.GdSector} lies past the end of the {fileLength}-byte file");
        }
        return header;
    }

    /// <summary>
    /// A header for a new extent: 64 KiB grains, 512 entries per grain table, the descriptor at sector 1 for
    /// <paramref name="descriptorSectors"/> sectors, and the newline test characters.
    /// </summary>
    public static byte[] Build(uint version, uint flags, long capacitySectors, long descriptorSectors, long rgdSector, ulong gdSector, long overheadSectors)
    {
        byte[] h = new byte[Size];
        BinaryPrimitives.WriteUInt32LittleEndian(h, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(VersionOffset), version);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(FlagsOffset), flags | FlagValidNewlineTest);
        BinaryPrimitives.WriteInt64LittleEndian(h.AsSpan(CapacityOffset), capacitySectors);
        BinaryPrimitives.WriteInt64LittleEndian(h.AsSpan(GrainSizeOffset), 128);
        BinaryPrimitives.WriteInt64LittleEndian(h.AsSpan(DescriptorOffsetOffset), 1);
        BinaryPrimitives.WriteInt64LittleEndian(h.AsSpan(DescriptorSizeOffset), descriptorSectors);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(NumGtesPerGtOffset), MaxGtesPerGt);
        BinaryPrimitives.WriteInt64LittleEndian(h.AsSpan(RgdOffsetOffset), rgdSector);
        BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(GdOffsetOffset), gdSector);
        BinaryPrimitives.WriteInt64LittleEndian(h.AsSpan(OverheadOffset), overheadSectors);
        // The newline test characters: a file mangled by a text-mode transfer is detectable.
        "\n \r\n"u8.CopyTo(h.AsSpan(UncleanShutdownOffset + 1));
        if ((flags & FlagCompressed) != 0)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(CompressAlgorithmOffset), CompressionDeflate);
        }
        return h;
    }

    /// <summary>Bytes one grain directory entry covers.</summary>
    public long GdEntryBytes => GtesPerGt * GrainSectors * 512;

    /// <summary>Number of grain directory entries (grain tables) the capacity needs.</summary>
    public long GdEntries => (CapacitySectors + GtesPerGt * GrainSectors - 1) / (GtesPerGt * GrainSectors);
}
