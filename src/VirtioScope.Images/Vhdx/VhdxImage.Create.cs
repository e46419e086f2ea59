using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using static VirtioScope.Images.Vhdx.VhdxLayout;

namespace VirtioScope.Images.Vhdx;

public sealed partial class VhdxImage
{
    private const long MetadataRegionOffset = 2 * Mib;
    private const long LogRegionOffset = Mib;
    private const uint MetadataFlagVirtualDisk = 0x2;

    /// <summary>
    /// Creates a dynamic or fixed VHDX laid out as qemu-img does: identifier, two headers, two region tables, the
    /// log at 1 MiB, the metadata region, then the BAT; a fixed image's payload blocks follow the BAT, fully present.
    /// With <paramref name="parent"/> it creates a differencing image: has_parent set, a parent locator naming the
    /// parent by <paramref name="parentName"/> (relative_path) and its absolute path, linked to its data write GUID.
    /// </summary>
    internal static void Create(string path, ImageCreateOptions options, long size, VhdxImage? parent = null, string? parentName = null)
    {
        string subformat = options.Subformat ?? "dynamic";
        if (subformat is not ("dynamic" or "fixed") || (parent is not null && subformat == "fixed"))
        {
            throw new ImageException(ImageErrorKind.InvalidOption, path, "subformat", parent is null ? $"'{subformat}' is not dynamic or fixed" : "a differencing image cannot be fixed");
        }
        if (parent is not null)
        {
            if (options.LogicalSectorSize != 512 && options.LogicalSectorSize != parent.LogicalSectorSize)
            {
                throw new ImageException(ImageErrorKind.InvalidOption, path, "logical_sector_size", $"must match the parent's {parent.LogicalSectorSize}");
            }
            options = options with { LogicalSectorSize = parent.LogicalSectorSize, BlockSize = options.BlockSize ?? parent.ClusterSize };
            size = parent.VirtualSize;
        }
        int sector = options.LogicalSectorSize;
        if (sector is not (512 or 4096))
        {
            throw new ImageException(ImageErrorKind.InvalidOption, path, "logical_sector_size", "must be 512 or 4096");
        }
        if (size <= 0 || size > MaxVirtualSize)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, path, "size", "must be between 1 byte and 64 TiB");
        }
        size = (size + sector - 1) / sector * sector;
        // qemu-img's default block size grows with the disk: 8 MiB below 1 TiB, 16 MiB to 2 TiB, 32 MiB beyond.
        long blockSize = options.BlockSize ?? (size >= 2L << 40 ? 32 * Mib : size >= 1L << 40 ? 16 * Mib : 8 * Mib);
        if (blockSize < MinBlockSize || blockSize > MaxBlockSize || (blockSize & (blockSize - 1)) != 0)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, path, "block_size", "must be a power of two between 1 MiB and 256 MiB");
        }
        long logSize = options.LogSize ?? Mib;
        if (logSize < Mib || logSize % Mib != 0 || logSize > VhdxLog.MaxLogLength)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, path, "log_size", $"must be a multiple of 1 MiB up to {VhdxLog.MaxLogLength / Mib} MiB");
        }
        bool isFixed = subformat == "fixed";
        long chunkRatio = SectorsPerBitmap * sector / blockSize;
        long blocks = (size + blockSize - 1) / blockSize;
        long entries = BatEntries(size, blockSize, chunkRatio, parent is not null);
        long metadataOffset = LogRegionOffset + logSize;
        long batOffset = metadataOffset + Mib;
        long batLength = (entries * 8 + Mib - 1) / Mib * Mib;
        long payloadStart = batOffset + batLength;

        using SafeFileHandle file = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None);
        byte[] ident = new byte[64 * 1024];
        FileSignature.CopyTo(ident);
        System.Text.Encoding.Unicode.GetBytes("VirtioScope").CopyTo(ident, 8);
        RandomAccess.Write(file, ident, 0);

        byte[] header = new byte[HeaderSize];
        HeaderSignature.CopyTo(header);
        Guid.NewGuid().TryWriteBytes(header.AsSpan(HeaderFileWriteGuidOffset));
        Guid.NewGuid().TryWriteBytes(header.AsSpan(HeaderDataWriteGuidOffset));
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(HeaderVersionOffset), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(HeaderLogLengthOffset), (uint)logSize);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(HeaderLogOffsetOffset), LogRegionOffset);
        for (int i = 0; i < 2; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(HeaderSequenceOffset), (ulong)i);
            Seal(header, HeaderChecksumOffset);
            RandomAccess.Write(file, header, i == 0 ? Header1Offset : Header2Offset);
        }

        byte[] regions = new byte[RegionTableSize];
        RegionSignature.CopyTo(regions);
        BinaryPrimitives.WriteUInt32LittleEndian(regions.AsSpan(RegionEntryCountOffset), 2);
        WriteRegion(regions.AsSpan(RegionEntriesOffset), BatRegion, batOffset, batLength);
        WriteRegion(regions.AsSpan(RegionEntriesOffset + RegionEntrySize), MetadataRegion, metadataOffset, Mib);
        Seal(regions, RegionChecksumOffset);
        RandomAccess.Write(file, regions, RegionTable1Offset);
        RandomAccess.Write(file, regions, RegionTable2Offset);

        byte[]? locator = parent is null ? null : VhdxParentLocator.Build(ParentLocatorEntries(path, parent, parentName!));
        byte[] meta = new byte[MetadataTableSize + 5 * 64 + (locator?.Length ?? 0)];
        MetadataSignature.CopyTo(meta);
        List<(Guid Id, int Length, uint Flags)> items =
        [
            (FileParameters, 8, MetadataFlagRequired),
            (VirtualDiskSize, 8, MetadataFlagRequired | MetadataFlagVirtualDisk),
            (Page83Data, 16, MetadataFlagRequired | MetadataFlagVirtualDisk),
            (VhdxLayout.LogicalSectorSize, 4, MetadataFlagRequired | MetadataFlagVirtualDisk),
            (VhdxLayout.PhysicalSectorSize, 4, MetadataFlagRequired | MetadataFlagVirtualDisk),
        ];
        if (locator is not null)
        {
            items.Add((ParentLocator, locator.Length, MetadataFlagRequired));
            locator.CopyTo(meta, MetadataTableSize + 5 * 64);
        }
        BinaryPrimitives.WriteUInt16LittleEndian(meta.AsSpan(MetadataEntryCountOffset), (ushort)items.Count);
        for (int i = 0; i < items.Count; i++)
        {
            Span<byte> e = meta.AsSpan(MetadataEntriesOffset + i * MetadataEntrySize, MetadataEntrySize);
            items[i].Id.TryWriteBytes(e);
            int itemOffset = MetadataTableSize + i * 64;
            BinaryPrimitives.WriteUInt32LittleEndian(e[16..], (uint)itemOffset);
            BinaryPrimitives.WriteUInt32LittleEndian(e[20..], (uint)items[i].Length);
            BinaryPrimitives.WriteUInt32LittleEndian(e[24..], items[i].Flags);
            Span<byte> v = meta.AsSpan(itemOffset, Math.Min(64, items[i].Length));
            switch (i)
            {
                case 0:
                    BinaryPrimitives.WriteUInt32LittleEndian(v, (uint)blockSize);
                    BinaryPrimitives.WriteUInt32LittleEndian(v[4..], isFixed ? 1u : parent is not null ? 2u : 0u);
                    break;
                case 1:
                    BinaryPrimitives.WriteInt64LittleEndian(v, size);
                    break;
                case 2:
                    Guid.NewGuid().TryWriteBytes(v);
                    break;
                case 3:
                    BinaryPrimitives.WriteInt32LittleEndian(v, sector);
                    break;
                case 4:
                    BinaryPrimitives.WriteInt32LittleEndian(v, 4096);
                    break;
                default:
                    // The parent locator was copied in whole above.
                    break;
            }
        }
        RandomAccess.Write(file, meta, metadataOffset);

        byte[] bat = new byte[entries * 8];
        if (isFixed)
        {
            for (long b = 0; b < blocks; b++)
            {
                ulong mb = (ulong)((payloadStart + b * blockSize) / Mib);
                BinaryPrimitives.WriteUInt64LittleEndian(bat.AsSpan((int)((b + b / chunkRatio) * 8)), (mb << BatOffsetShift) | PayloadFullyPresent);
            }
        }
        long end = isFixed ? payloadStart + blocks * blockSize : payloadStart;
        if (parent is not null)
        {
            // Every chunk gets its sector bitmap block up front (a hole, all sectors from the parent): some readers
            // (libvhdi) consult the bitmap of a differencing image without looking at the bitmap entry's state.
            long chunks = entries / (chunkRatio + 1);
            for (long c = 0; c < chunks; c++)
            {
                ulong mb = (ulong)((payloadStart + c * Mib) / Mib);
                BinaryPrimitives.WriteUInt64LittleEndian(bat.AsSpan((int)((c * (chunkRatio + 1) + chunkRatio) * 8)), (mb << BatOffsetShift) | SectorBitmapPresent);
            }
            end = payloadStart + chunks * Mib;
        }
        RandomAccess.Write(file, bat, batOffset);
        RandomAccess.SetLength(file, end);
        options.Cache.Flush(file);
    }

    /// <summary>
    /// The parent locator's keys: the linkage to the parent's current data write GUID, the path relative to the child
    /// in Windows form (".\\name", as Hyper-V writes it), and the parent's absolute path.
    /// </summary>
    private static List<KeyValuePair<string, string>> ParentLocatorEntries(string path, VhdxImage parent, string parentName)
    {
        string childDir = Path.GetDirectoryName(Path.GetFullPath(path)) ?? "/";
        string parentFull = Path.GetFullPath(parent.FilePath);
        string relative = Path.IsPathRooted(parentName) ? Path.GetRelativePath(childDir, parentFull) : parentName;
        if (!relative.StartsWith("../", StringComparison.Ordinal) && !relative.StartsWith("./", StringComparison.Ordinal))
        {
            relative = "./" + relative;
        }
        return
        [
            new("parent_linkage", parent.DataWriteGuid.ToString("B")),
            new("relative_path", relative.Replace('/', '\\')),
            new("absolute_win32_path", parentFull),
        ];
    }

    private static void WriteRegion(Span<byte> entry, Guid id, long offset, long length)
    {
        id.TryWriteBytes(entry);
        BinaryPrimitives.WriteInt64LittleEndian(entry[16..], offset);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[24..], (uint)length);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[28..], 1);
    }
}
