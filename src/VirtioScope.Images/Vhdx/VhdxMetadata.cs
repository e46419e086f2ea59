using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using static VirtioScope.Images.Vhdx.VhdxLayout;

namespace VirtioScope.Images.Vhdx;

/// <summary>The metadata items a VHDX needs: file parameters, virtual disk size, sector sizes, page 83 data.</summary>
internal sealed record VhdxMetadata(int BlockSize, bool LeaveBlocksAllocated, bool HasParent, long VirtualSize, int LogicalSectorSize, int PhysicalSectorSize, Guid Page83)
{
    /// <summary>The parent locator of a differencing image (null when it has no parent).</summary>
    public VhdxParentLocator? Locator { get; init; }

    public static VhdxMetadata Read(SafeFileHandle file, VhdxRegions regions, string path)
    {
        if (regions.MetadataLength < MetadataTableSize)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "metadata region", "shorter than its 64 KiB table");
        }
        byte[] table = new byte[MetadataTableSize];
        Raw.HostFile.ReadFull(file, table, regions.MetadataOffset);
        if (!table.AsSpan().StartsWith(MetadataSignature))
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "metadata table", "signature is not 'metadata'");
        }
        int count = BinaryPrimitives.ReadUInt16LittleEndian(table.AsSpan(MetadataEntryCountOffset));
        if (count > MetadataMaxEntries)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "metadata entry count", $"{count} exceeds {MetadataMaxEntries}");
        }
        var items = new Dictionary<Guid, (long Offset, int Length)>();
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> e = table.AsSpan(MetadataEntriesOffset + i * MetadataEntrySize, MetadataEntrySize);
            Guid id = ReadGuid(e);
            long offset = BinaryPrimitives.ReadUInt32LittleEndian(e[16..]);
            long length = BinaryPrimitives.ReadUInt32LittleEndian(e[20..]);
            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(e[24..]);
            if (length > 0 && (offset < MetadataTableSize || offset > regions.MetadataLength - length || length > Mib))
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, $"metadata entry {i}", $"item of {length} bytes at {offset} lies outside the {regions.MetadataLength}-byte metadata region");
            }
            if (!items.TryAdd(id, (regions.MetadataOffset + offset, (int)length)))
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, $"metadata entry {i}", $"item {id} appears twice");
            }
            bool known = id == FileParameters || id == VirtualDiskSize || id == Page83Data || id == VhdxLayout.LogicalSectorSize || id == VhdxLayout.PhysicalSectorSize || id == ParentLocator;
            if (!known && (flags & MetadataFlagRequired) != 0)
            {
                throw new ImageException(ImageErrorKind.UnsupportedFeature, path, $"metadata entry {i}", $"unknown required metadata item {id}");
            }
        }
        Span<byte> buf = stackalloc byte[16];
        Span<byte> fp = Item(file, items, FileParameters, 8, buf, path);
        int blockSize = (int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32LittleEndian(fp));
        uint fpFlags = BinaryPrimitives.ReadUInt32LittleEndian(fp[4..]);
        if (blockSize < MinBlockSize || blockSize > MaxBlockSize || (blockSize & (blockSize - 1)) != 0)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "block size", $"{blockSize} is not a power of two between 1 MiB and 256 MiB");
        }
        long size = BinaryPrimitives.ReadInt64LittleEndian(Item(file, items, VirtualDiskSize, 8, buf, path));
        int logical = BinaryPrimitives.ReadInt32LittleEndian(Item(file, items, VhdxLayout.LogicalSectorSize, 4, buf, path));
        int physical = BinaryPrimitives.ReadInt32LittleEndian(Item(file, items, VhdxLayout.PhysicalSectorSize, 4, buf, path));
        if (logical is not (512 or 4096))
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "logical sector size", $"{logical} is not 512 or 4096");
        }
        if (physical is not (512 or 4096))
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "physical sector size", $"{physical} is not 512 or 4096");
        }
        if (size <= 0 || size > MaxVirtualSize || size % logical != 0)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "virtual disk size", $"{size} is not a multiple of the sector size up to 64 TiB");
        }
        Guid page83 = items.ContainsKey(Page83Data) ? ReadGuid(Item(file, items, Page83Data, 16, buf, path)) : Guid.Empty;
        bool hasParent = (fpFlags & 2) != 0;
        VhdxParentLocator? locator = null;
        if (hasParent)
        {
            if (!items.TryGetValue(ParentLocator, out var loc) || loc.Length == 0)
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, "parent locator", "a differencing image (has_parent) has no parent locator");
            }
            byte[] raw = new byte[loc.Length];
            Raw.HostFile.ReadFull(file, raw, loc.Offset);
            locator = VhdxParentLocator.Parse(raw, path);
        }
        return new VhdxMetadata(blockSize, (fpFlags & 1) != 0, hasParent, size, logical, physical, page83) { Locator = locator };
    }

    private static Span<byte> Item(SafeFileHandle file, Dictionary<Guid, (long Offset, int Length)> items, Guid id, int length, Span<byte> buf, string path)
    {
        if (!items.TryGetValue(id, out var item))
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "metadata", $"required item {id} is missing");
        }
        if (item.Length < length)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "metadata", $"item {id} is {item.Length} bytes, expected {length}");
        }
        Raw.HostFile.ReadFull(file, buf[..length], item.Offset);
        return buf[..length];
    }
}
