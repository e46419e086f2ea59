using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace VirtioScope.Images.Vpc;

public sealed partial class VpcImage
{
    private const int DefaultBlockSize = 2 << 20;
    private const int DynamicHeaderOffset = VpcFooter.Size;
    private const int BatOffset = VpcFooter.Size + VpcDynamicHeader.Size;

    /// <summary>"vsco": this library as the creator application. Its size rule is CHS, like Virtual PC.</summary>
    private static ReadOnlySpan<byte> CreatorApp => "vsco"u8;

    /// <summary>"qem2": the creator QEMU uses with force_size=on, telling readers to use current_size.</summary>
    private static ReadOnlySpan<byte> CreatorAppCurrentSize => "qem2"u8;

    /// <summary>
    /// Creates a fixed or dynamic VHD. Like qemu-img, the size is rounded up to the CHS geometry unless
    /// <see cref="ImageCreateOptions.ForceSize"/> keeps it exact (then readers are told to use current_size).
    /// </summary>
    internal static void Create(string path, ImageCreateOptions options, long size)
    {
        string subformat = options.Subformat ?? "dynamic";
        if (subformat is not ("dynamic" or "fixed"))
        {
            throw new ImageException(ImageErrorKind.InvalidOption, path, "subformat", $"'{subformat}' is not dynamic or fixed");
        }
        int blockSize = options.BlockSize ?? DefaultBlockSize;
        if (blockSize < 512 || blockSize > VpcDynamicHeader.MaxBlockSize || (blockSize & (blockSize - 1)) != 0)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, path, "block_size", "must be a power of two between 512 and 256 MiB");
        }
        long sectors = (size + 511) / 512;
        (int c, int h, int s) = VpcFooter.Geometry(sectors);
        bool exact = options.ForceSize;
        if (!exact)
        {
            for (long i = 1; sectors > (long)c * h * s && (long)c * h * s < VpcFooter.MaxGeometrySectors; i++)
            {
                (c, h, s) = VpcFooter.Geometry(sectors + i);
            }
            if ((long)c * h * s == VpcFooter.MaxGeometrySectors)
            {
                exact = true;
            }
            else
            {
                sectors = (long)c * h * s;
            }
        }
        if (sectors > VpcFooter.MaxSectors)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, path, "size", $"a VHD holds at most {VpcFooter.MaxSectors * 512} bytes");
        }
        long bytes = sectors * 512;
        bool dynamic = subformat == "dynamic";
        byte[] footer = new byte[VpcFooter.Size];
        VpcFooter.Cookie.CopyTo(footer);
        BinaryPrimitives.WriteUInt32BigEndian(footer.AsSpan(VpcFooter.FeaturesOffset), VpcFooter.FeaturesReserved);
        BinaryPrimitives.WriteUInt32BigEndian(footer.AsSpan(VpcFooter.VersionOffset), VpcFooter.Version1);
        BinaryPrimitives.WriteUInt64BigEndian(footer.AsSpan(VpcFooter.DataOffsetOffset), dynamic ? DynamicHeaderOffset : ulong.MaxValue);
        uint timestamp = (uint)Math.Max(0, (DateTimeOffset.UtcNow - new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero)).TotalSeconds);
        BinaryPrimitives.WriteUInt32BigEndian(footer.AsSpan(VpcFooter.TimestampOffset), timestamp);
        (exact ? CreatorAppCurrentSize : CreatorApp).CopyTo(footer.AsSpan(VpcFooter.CreatorAppOffset));
        BinaryPrimitives.WriteUInt32BigEndian(footer.AsSpan(VpcFooter.CreatorVersionOffset), 0x00010000);
        "Wi2k"u8.CopyTo(footer.AsSpan(VpcFooter.CreatorHostOsOffset));
        BinaryPrimitives.WriteInt64BigEndian(footer.AsSpan(VpcFooter.OriginalSizeOffset), bytes);
        BinaryPrimitives.WriteInt64BigEndian(footer.AsSpan(VpcFooter.CurrentSizeOffset), bytes);
        BinaryPrimitives.WriteUInt16BigEndian(footer.AsSpan(VpcFooter.CylindersOffset), (ushort)c);
        footer[VpcFooter.HeadsOffset] = (byte)h;
        footer[VpcFooter.SectorsPerTrackOffset] = (byte)s;
        BinaryPrimitives.WriteUInt32BigEndian(footer.AsSpan(VpcFooter.DiskTypeOffset), (uint)(dynamic ? VpcDiskType.Dynamic : VpcDiskType.Fixed));
        Guid.NewGuid().TryWriteBytes(footer.AsSpan(VpcFooter.UniqueIdOffset, 16), bigEndian: true, out _);
        VpcFooter.Seal(footer);

        using SafeFileHandle file = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None);
        if (!dynamic)
        {
            RandomAccess.SetLength(file, bytes + VpcFooter.Size);
            RandomAccess.Write(file, footer, bytes);
            RandomAccess.FlushToDisk(file);
            return;
        }
        long entries = (bytes + blockSize - 1) / blockSize;
        byte[] header = new byte[VpcDynamicHeader.Size];
        VpcDynamicHeader.Cookie.CopyTo(header);
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(VpcDynamicHeader.DataOffsetOffset), ulong.MaxValue);
        BinaryPrimitives.WriteInt64BigEndian(header.AsSpan(VpcDynamicHeader.TableOffsetOffset), BatOffset);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(VpcDynamicHeader.HeaderVersionOffset), VpcFooter.Version1);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(VpcDynamicHeader.MaxTableEntriesOffset), (int)entries);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(VpcDynamicHeader.BlockSizeOffset), blockSize);
        VpcFooter.Seal(header, VpcDynamicHeader.ChecksumOffset);
        byte[] bat = new byte[(entries * 4 + 511) & ~511L];
        bat.AsSpan().Fill(0xFF);
        RandomAccess.Write(file, footer, 0);
        RandomAccess.Write(file, header, DynamicHeaderOffset);
        RandomAccess.Write(file, bat, BatOffset);
        RandomAccess.Write(file, footer, BatOffset + bat.Length);
        RandomAccess.FlushToDisk(file);
    }
}
