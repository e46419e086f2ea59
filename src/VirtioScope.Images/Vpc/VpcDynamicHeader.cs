using System.Buffers.Binary;

namespace VirtioScope.Images.Vpc;

/// <summary>One parent locator entry of a differencing VHD's dynamic disk header.</summary>
internal readonly record struct VpcParentLocator(uint PlatformCode, int DataSpace, int DataLength, long DataOffset);

/// <summary>The 1024-byte dynamic disk header ("cxsparse", big-endian) of dynamic and differencing VHDs.</summary>
internal sealed class VpcDynamicHeader
{
    public const int Size = 1024;
    public const int CookieOffset = 0;
    public const int DataOffsetOffset = 8;
    public const int TableOffsetOffset = 16;
    public const int HeaderVersionOffset = 24;
    public const int MaxTableEntriesOffset = 28;
    public const int BlockSizeOffset = 32;
    public const int ChecksumOffset = 36;
    public const int ParentUniqueIdOffset = 40;
    public const int ParentTimestampOffset = 56;
    public const int ParentNameOffset = 64;
    public const int ParentNameLength = 512;
    public const int ParentLocatorsOffset = 576;
    public const int ParentLocatorSize = 24;
    public const int ParentLocatorCount = 8;

    /// <summary>Platform code "W2ru": a relative Windows path in UTF-16LE.</summary>
    public const uint PlatformW2ru = 0x57327275;

    /// <summary>Platform code "W2ku": an absolute Windows path in UTF-16LE.</summary>
    public const uint PlatformW2ku = 0x57326B75;

    /// <summary>QEMU's largest block size accepted; larger makes the bitmap and cache unreasonable.</summary>
    public const int MaxBlockSize = 256 << 20;

    /// <summary>Largest BAT accepted (as QEMU: it must fit in an int-sized allocation of 4-byte entries).</summary>
    public const int MaxTableEntries = int.MaxValue / 4;

    public static ReadOnlySpan<byte> Cookie => "cxsparse"u8;

    public required byte[] Raw { get; init; }

    public long TableOffset => BinaryPrimitives.ReadInt64BigEndian(Raw.AsSpan(TableOffsetOffset));

    public int MaxEntries => BinaryPrimitives.ReadInt32BigEndian(Raw.AsSpan(MaxTableEntriesOffset));

    public int BlockSize => BinaryPrimitives.ReadInt32BigEndian(Raw.AsSpan(BlockSizeOffset));

    public Guid ParentUniqueId => new(Raw.AsSpan(ParentUniqueIdOffset, 16), bigEndian: true);

    /// <summary>The parent's file name as stored (UTF-16BE, NUL-terminated).</summary>
    public string ParentName
    {
        get
        {
            string s = System.Text.Encoding.BigEndianUnicode.GetString(Raw, ParentNameOffset, ParentNameLength);
            int nul = s.IndexOf('\0', StringComparison.Ordinal);
            return nul < 0 ? s : s[..nul];
        }
    }

    public VpcParentLocator Locator(int index)
    {
        ReadOnlySpan<byte> e = Raw.AsSpan(ParentLocatorsOffset + index * ParentLocatorSize, ParentLocatorSize);
        return new VpcParentLocator(BinaryPrimitives.ReadUInt32BigEndian(e), BinaryPrimitives.ReadInt32BigEndian(e[4..]),
            BinaryPrimitives.ReadInt32BigEndian(e[8..]), BinaryPrimitives.ReadInt64BigEndian(e[16..]));
    }

    /// <summary>Parses and validates the header against the file length.</summary>
    /// <remarks>A bad checksum is refused, or recorded in <paramref name="problems"/> when a check collects them.</remarks>
    public static VpcDynamicHeader Parse(ReadOnlySpan<byte> bytes, long fileLength, string path, List<string>? problems = null)
    {
        if (bytes.Length < Size || !bytes.StartsWith(Cookie))
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "dynamic header cookie", "no 'cxsparse' dynamic disk header at the footer's data offset");
        }
        var header = new VpcDynamicHeader { Raw = bytes[..Size].ToArray() };
        uint stored = BinaryPrimitives.ReadUInt32BigEndian(header.Raw.AsSpan(ChecksumOffset));
        uint computed = VpcFooter.Checksum(header.Raw, ChecksumOffset);
        if (stored != computed && problems is null)
        {
            throw new ImageException(ImageErrorKind.Corrupt, path, "dynamic header checksum", $"stored 0x{stored:x8}, computed 0x{computed:x8}");
        }
        if (stored != computed)
        {
            problems!.Add($"VHD dynamic header checksum: stored 0x{stored:x8}, computed 0x{computed:x8}");
        }
        int bs = header.BlockSize;
        if (bs < 512 || bs > MaxBlockSize || (bs & (bs - 1)) != 0)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "block size", $"{(uint)bs} is not a power of two between 512 and {MaxBlockSize}");
        }
        int entries = header.MaxEntries;
        if (entries < 0 || entries > MaxTableEntries)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "max table entries", $"{(uint)entries} is too large");
        }
        long table = header.TableOffset;
        if (table < 0 || table % 512 != 0 || table > fileLength - entries * 4L)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "table offset", $"BAT at {table} with {entries} entries lies outside the {fileLength}-byte file or is unaligned");
        }
        return header;
    }
}
