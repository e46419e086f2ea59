using System.Buffers.Binary;
using System.Numerics;

namespace VirtioScope.Images.Vhdx;

/// <summary>Structure offsets, signatures and GUIDs of [MS-VHDX] (all fields little-endian).</summary>
internal static class VhdxLayout
{
    public const long Kib = 1024;
    public const long Mib = 1024 * 1024;

    public const long Header1Offset = 64 * Kib;
    public const long Header2Offset = 128 * Kib;
    public const int HeaderSize = 4096;
    public const long RegionTable1Offset = 192 * Kib;
    public const long RegionTable2Offset = 256 * Kib;
    public const int RegionTableSize = 64 * 1024;

    // Header fields.
    public const int HeaderChecksumOffset = 4;
    public const int HeaderSequenceOffset = 8;
    public const int HeaderFileWriteGuidOffset = 16;
    public const int HeaderDataWriteGuidOffset = 32;
    public const int HeaderLogGuidOffset = 48;
    public const int HeaderLogVersionOffset = 64;
    public const int HeaderVersionOffset = 66;
    public const int HeaderLogLengthOffset = 68;
    public const int HeaderLogOffsetOffset = 72;

    // Region table.
    public const int RegionChecksumOffset = 4;
    public const int RegionEntryCountOffset = 8;
    public const int RegionEntriesOffset = 16;
    public const int RegionEntrySize = 32;
    public const int RegionMaxEntries = 2047;

    // Metadata table.
    public const int MetadataTableSize = 64 * 1024;
    public const int MetadataEntryCountOffset = 10;
    public const int MetadataEntriesOffset = 32;
    public const int MetadataEntrySize = 32;
    public const int MetadataMaxEntries = 2047;
    public const uint MetadataFlagRequired = 0x4;

    // BAT entry states.
    public const int PayloadNotPresent = 0;
    public const int PayloadUndefined = 1;
    public const int PayloadZero = 2;
    public const int PayloadUnmapped = 3;
    public const int PayloadFullyPresent = 6;
    public const int PayloadPartiallyPresent = 7;
    public const int SectorBitmapPresent = 6;
    public const ulong BatStateMask = 0x7;
    public const int BatOffsetShift = 20;

    public const long MinBlockSize = Mib;
    public const long MaxBlockSize = 256 * Mib;
    public const long MaxVirtualSize = 64L * 1024 * 1024 * Mib;
    public const long SectorsPerBitmap = 1L << 23;

    public static readonly Guid BatRegion = new("2DC27766-F623-4200-9D64-115E9BFD4A08");
    public static readonly Guid MetadataRegion = new("8B7CA206-4790-4B9A-B8FE-575F050F886E");
    public static readonly Guid FileParameters = new("CAA16737-FA36-4D43-B3B6-33F0AA44E76B");
    public static readonly Guid VirtualDiskSize = new("2FA54224-CD1B-4876-B211-5DBED83BF4B8");
    public static readonly Guid Page83Data = new("BECA12AB-B2E6-4523-93EF-C309E000C746");
    public static readonly Guid LogicalSectorSize = new("8141BF1D-A96F-4709-BA47-F233A8FAAB5F");
    public static readonly Guid PhysicalSectorSize = new("CDA348C7-445D-4471-9CC9-E9885251C556");
    public static readonly Guid ParentLocator = new("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C");

    public static ReadOnlySpan<byte> FileSignature => "vhdxfile"u8;

    public static ReadOnlySpan<byte> HeaderSignature => "head"u8;

    public static ReadOnlySpan<byte> RegionSignature => "regi"u8;

    public static ReadOnlySpan<byte> MetadataSignature => "metadata"u8;

    /// <summary>CRC-32C of <paramref name="block"/> with the 4-byte checksum field at <paramref name="checksumOffset"/> taken as zero.</summary>
    public static uint Crc(ReadOnlySpan<byte> block, int checksumOffset)
    {
        uint crc = 0xFFFFFFFF;
        crc = Crc32C(crc, block[..checksumOffset]);
        crc = BitOperations.Crc32C(crc, 0u);
        crc = Crc32C(crc, block[(checksumOffset + 4)..]);
        return ~crc;
    }

    /// <summary>Stores the CRC-32C of the block in its checksum field.</summary>
    public static void Seal(Span<byte> block, int checksumOffset) =>
        BinaryPrimitives.WriteUInt32LittleEndian(block[checksumOffset..], Crc(block, checksumOffset));

    private static uint Crc32C(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        foreach (byte b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }
        return crc;
    }

    public static Guid ReadGuid(ReadOnlySpan<byte> s) => new(s[..16]);
}
