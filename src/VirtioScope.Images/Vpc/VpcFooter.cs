using System.Buffers.Binary;

namespace VirtioScope.Images.Vpc;

/// <summary>VHD disk types (footer field "Disk Type").</summary>
internal enum VpcDiskType
{
    Fixed = 2,
    Dynamic = 3,
    Differencing = 4,
}

/// <summary>
/// The 512-byte VHD hard disk footer (big-endian), stored at the end of every VHD and copied at offset 0 of
/// dynamic and differencing disks. Offsets follow Microsoft's "Virtual Hard Disk Image Format Specification".
/// </summary>
internal sealed class VpcFooter
{
    public const int Size = 512;
    public const int CookieOffset = 0;
    public const int FeaturesOffset = 8;
    public const int VersionOffset = 12;
    public const int DataOffsetOffset = 16;
    public const int TimestampOffset = 24;
    public const int CreatorAppOffset = 28;
    public const int CreatorVersionOffset = 32;
    public const int CreatorHostOsOffset = 36;
    public const int OriginalSizeOffset = 40;
    public const int CurrentSizeOffset = 48;
    public const int CylindersOffset = 56;
    public const int HeadsOffset = 58;
    public const int SectorsPerTrackOffset = 59;
    public const int DiskTypeOffset = 60;
    public const int ChecksumOffset = 64;
    public const int UniqueIdOffset = 68;
    public const int SavedStateOffset = 84;

    /// <summary>65535 cylinders x 16 heads x 255 sectors: the largest CHS geometry, meaning "use current_size".</summary>
    public const long MaxGeometrySectors = 65535L * 16 * 255;

    /// <summary>QEMU's limit for VHD disks: 0xff000000 sectors (about 2040 GiB).</summary>
    public const long MaxSectors = 0xff000000L;

    public const uint Version1 = 0x00010000;
    public const uint FeaturesReserved = 0x2;

    public static ReadOnlySpan<byte> Cookie => "conectix"u8;

    public required byte[] Raw { get; init; }

    public uint Features => BinaryPrimitives.ReadUInt32BigEndian(Raw.AsSpan(FeaturesOffset));

    public ulong DataOffset => BinaryPrimitives.ReadUInt64BigEndian(Raw.AsSpan(DataOffsetOffset));

    public string CreatorApp => System.Text.Encoding.ASCII.GetString(Raw, CreatorAppOffset, 4);

    public long CurrentSize => BinaryPrimitives.ReadInt64BigEndian(Raw.AsSpan(CurrentSizeOffset));

    public int Cylinders => BinaryPrimitives.ReadUInt16BigEndian(Raw.AsSpan(CylindersOffset));

    public int Heads => Raw[HeadsOffset];

    public int SectorsPerTrack => Raw[SectorsPerTrackOffset];

    public VpcDiskType DiskType => (VpcDiskType)BinaryPrimitives.ReadUInt32BigEndian(Raw.AsSpan(DiskTypeOffset));

    public Guid UniqueId => new(Raw.AsSpan(UniqueIdOffset, 16), bigEndian: true);

    /// <summary>Parses and validates a footer: cookie, checksum, disk type.</summary>
    public static VpcFooter Parse(ReadOnlySpan<byte> bytes, string path)
    {
        if (bytes.Length < Size || !bytes.StartsWith(Cookie))
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "footer cookie", "no 'conectix' footer at the start or the end of the file");
        }
        byte[] raw = bytes[..Size].ToArray();
        uint stored = BinaryPrimitives.ReadUInt32BigEndian(raw.AsSpan(ChecksumOffset));
        uint computed = Checksum(raw);
        if (stored != computed)
        {
            throw new ImageException(ImageErrorKind.Corrupt, path, "footer checksum", $"stored 0x{stored:x8}, computed 0x{computed:x8}");
        }
        var footer = new VpcFooter { Raw = raw };
        uint type = BinaryPrimitives.ReadUInt32BigEndian(raw.AsSpan(DiskTypeOffset));
        if (type is not ((uint)VpcDiskType.Fixed or (uint)VpcDiskType.Dynamic or (uint)VpcDiskType.Differencing))
        {
            throw new ImageException(ImageErrorKind.UnsupportedFeature, path, "disk type", $"disk type {type} is not fixed (2), dynamic (3) or differencing (4)");
        }
        if (footer.CurrentSize < 0)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "current size", $"{(ulong)footer.CurrentSize} is too large");
        }
        return footer;
    }

    /// <summary>
    /// The virtual size in bytes by QEMU's rule: Virtual PC (and old QEMU) sizes come from the CHS geometry, Hyper-V,
    /// Disk2VHD, XenServer, XenConverter and newer QEMU ("qem2") use current_size; a maximal CHS geometry always
    /// means current_size.
    /// </summary>
    public long VirtualSize(string path)
    {
        long sectors = (long)Cylinders * Heads * SectorsPerTrack;
        string app = CreatorApp;
        bool useChs = app is not ("win " or "qem2" or "d2v " or "CTXS" or "tap\0");
        if (!useChs || sectors == MaxGeometrySectors)
        {
            sectors = CurrentSize / 512;
        }
        if (sectors > MaxSectors)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "current size", $"{sectors} sectors exceed the VHD limit of {MaxSectors} sectors (2040 GiB)");
        }
        return sectors * 512;
    }

    /// <summary>One's complement of the byte sum, with the checksum field itself counted as zero.</summary>
    public static uint Checksum(ReadOnlySpan<byte> block, int checksumOffset = ChecksumOffset)
    {
        uint sum = 0;
        for (int i = 0; i < block.Length; i++)
        {
            if (i < checksumOffset || i >= checksumOffset + 4)
            {
                sum += block[i];
            }
        }
        return ~sum;
    }

    /// <summary>Stores the checksum of <paramref name="block"/> in its checksum field.</summary>
    public static void Seal(Span<byte> block, int checksumOffset = ChecksumOffset) =>
        BinaryPrimitives.WriteUInt32BigEndian(block[checksumOffset..], Checksum(block, checksumOffset));

    /// <summary>
    /// The CHS geometry for <paramref name="totalSectors"/> by the VHD specification's appendix algorithm.
    /// </summary>
    public static (int Cylinders, int Heads, int SectorsPerTrack) Geometry(long totalSectors)
    {
        if (totalSectors > 65535L * 16 * 255)
        {
            totalSectors = 65535L * 16 * 255;
        }
        int spt, heads;
        long cth;
        if (totalSectors >= 65535L * 16 * 63)
        {
            spt = 255;
            heads = 16;
            cth = totalSectors / spt;
        }
        else
        {
            spt = 17;
            cth = totalSectors / spt;
            heads = (int)((cth + 1023) / 1024);
            if (heads < 4)
            {
                heads = 4;
            }
            if (cth >= heads * 1024L || heads > 16)
            {
                spt = 31;
                heads = 16;
                cth = totalSectors / spt;
            }
            if (cth >= heads * 1024L)
            {
                spt = 63;
                heads = 16;
                cth = totalSectors / spt;
            }
        }
        return ((int)(cth / heads), heads, spt);
    }
}
