using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using static VirtioScope.Images.Vhdx.VhdxLayout;

namespace VirtioScope.Images.Vhdx;

/// <summary>The region table (first valid copy): where the BAT and the metadata region are.</summary>
internal sealed record VhdxRegions(long BatOffset, long BatLength, long MetadataOffset, long MetadataLength)
{
    public static VhdxRegions Read(SafeFileHandle file, long fileLength, string path)
    {
        byte[] table = new byte[RegionTableSize];
        string? problem = null;
        foreach (long at in new[] { RegionTable1Offset, RegionTable2Offset })
        {
            Raw.HostFile.ReadFull(file, table, at);
            if (!table.AsSpan().StartsWith(RegionSignature) || BinaryPrimitives.ReadUInt32LittleEndian(table.AsSpan(RegionChecksumOffset)) != Crc(table, RegionChecksumOffset))
            {
                problem ??= $"region table at {at} has a bad signature or CRC-32C";
                continue;
            }
            return Parse(table, fileLength, path);
        }
        throw new ImageException(ImageErrorKind.Corrupt, path, "region table", problem ?? "no valid region table");
    }

    private static VhdxRegions Parse(ReadOnlySpan<byte> table, long fileLength, string path)
    {
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(table[RegionEntryCountOffset..]);
        if (count > RegionMaxEntries)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "region table entry count", $"{count} exceeds {RegionMaxEntries}");
        }
        long bat = -1, batLen = 0, meta = -1, metaLen = 0;
        var seen = new List<(long Start, long End)>();
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> e = table.Slice(RegionEntriesOffset + i * RegionEntrySize, RegionEntrySize);
            Guid id = ReadGuid(e);
            long offset = BinaryPrimitives.ReadInt64LittleEndian(e[16..]);
            long length = BinaryPrimitives.ReadUInt32LittleEndian(e[24..]);
            bool required = (BinaryPrimitives.ReadUInt32LittleEndian(e[28..]) & 1) != 0;
            if (offset < Mib || offset % Mib != 0 || length % Mib != 0 || length == 0 || offset > fileLength - length)
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, $"region table entry {i}", $"region of {length} bytes at {offset} is unaligned or outside the {fileLength}-byte file");
            }
            foreach ((long s, long end) in seen)
            {
                if (offset < end && s < offset + length)
                {
                    throw new ImageException(ImageErrorKind.InvalidField, path, $"region table entry {i}", "region overlaps another region");
                }
            }
            seen.Add((offset, offset + length));
            if (id == BatRegion)
            {
                (bat, batLen) = (offset, length);
            }
            else if (id == MetadataRegion)
            {
                (meta, metaLen) = (offset, length);
            }
            else if (required)
            {
                throw new ImageException(ImageErrorKind.UnsupportedFeature, path, $"region table entry {i}", $"unknown required region {id}");
            }
        }
        if (bat < 0 || meta < 0)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "region table", "the BAT or the metadata region is missing");
        }
        return new VhdxRegions(bat, batLen, meta, metaLen);
    }
}
