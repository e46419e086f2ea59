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
        BinaryPrimitives.WriteUInt32BigEndian(footer.AsSpan(VpcFooter.TimestampOffset), SecondsSince2000(DateTimeOffset.UtcNow));
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
            options.Cache.Flush(file);
            return;
        }
        WriteDynamic(file, footer, blockSize, (bytes + blockSize - 1) / blockSize, null);
        options.Cache.Flush(file);
    }

    /// <summary>
    /// Creates a differencing VHD over <paramref name="parent"/>, as Virtual PC and Hyper-V lay one out: the parent's
    /// size, geometry and creator kept (so both read the same size), the parent's unique id, modification time and file
    /// name in the dynamic header, and two parent locators after the BAT: W2ru (relative, ".\\name") and W2ku (absolute).
    /// </summary>
    internal static void CreateDifferencing(string path, ImageCreateOptions options, VpcImage parent, string parentName)
    {
        int blockSize = options.BlockSize ?? parent.ClusterSize ?? DefaultBlockSize;
        if (blockSize < 512 || blockSize > VpcDynamicHeader.MaxBlockSize || (blockSize & (blockSize - 1)) != 0)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, path, "block_size", "must be a power of two between 512 and 256 MiB");
        }
        byte[] footer = (byte[])parent._footer.Raw.Clone();
        BinaryPrimitives.WriteUInt64BigEndian(footer.AsSpan(VpcFooter.DataOffsetOffset), DynamicHeaderOffset);
        BinaryPrimitives.WriteUInt32BigEndian(footer.AsSpan(VpcFooter.TimestampOffset), SecondsSince2000(DateTimeOffset.UtcNow));
        BinaryPrimitives.WriteUInt32BigEndian(footer.AsSpan(VpcFooter.DiskTypeOffset), (uint)VpcDiskType.Differencing);
        Guid.NewGuid().TryWriteBytes(footer.AsSpan(VpcFooter.UniqueIdOffset, 16), bigEndian: true, out _);
        footer[VpcFooter.SavedStateOffset] = 0;
        VpcFooter.Seal(footer);

        string parentFull = Path.GetFullPath(parent.FilePath);
        string childDir = Path.GetDirectoryName(Path.GetFullPath(path)) ?? "/";
        string relative = Path.IsPathRooted(parentName) ? Path.GetRelativePath(childDir, parentFull) : parentName;
        if (!relative.StartsWith("../", StringComparison.Ordinal) && !relative.StartsWith("./", StringComparison.Ordinal))
        {
            relative = "./" + relative;
        }
        var locators = new (uint Code, byte[] Data)[]
        {
            (VpcDynamicHeader.PlatformW2ru, System.Text.Encoding.Unicode.GetBytes(relative.Replace('/', '\\'))),
            (VpcDynamicHeader.PlatformW2ku, System.Text.Encoding.Unicode.GetBytes(parentFull)),
        };
        long entries = (parent.VirtualSize + blockSize - 1) / blockSize;
        using SafeFileHandle file = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None);
        WriteDynamic(file, footer, blockSize, entries, header =>
        {
            parent.UniqueId.TryWriteBytes(header.AsSpan(VpcDynamicHeader.ParentUniqueIdOffset, 16), bigEndian: true, out _);
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(VpcDynamicHeader.ParentTimestampOffset), SecondsSince2000(File.GetLastWriteTimeUtc(parentFull)));
            string name = Path.GetFileName(parentFull);
            byte[] unicodeName = System.Text.Encoding.BigEndianUnicode.GetBytes(name);
            if (unicodeName.Length > VpcDynamicHeader.ParentNameLength)
            {
                throw new ImageException(ImageErrorKind.InvalidOption, path, "backing file", $"the parent's file name is longer than {VpcDynamicHeader.ParentNameLength / 2} characters");
            }
            unicodeName.CopyTo(header, VpcDynamicHeader.ParentNameOffset);
            return locators;
        });
        options.Cache.Flush(file);
    }

    private static uint SecondsSince2000(DateTimeOffset t) =>
        (uint)Math.Max(0, (t - new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero)).TotalSeconds);

    /// <summary>
    /// Writes a dynamic or differencing layout: footer copy, dynamic header, an empty BAT, the parent locators' data
    /// (each in whole sectors), and the footer. <paramref name="parentFields"/> fills the header's parent fields and
    /// returns the locators.
    /// </summary>
    private static void WriteDynamic(SafeFileHandle file, byte[] footer, int blockSize, long entries, Func<byte[], (uint Code, byte[] Data)[]>? parentFields)
    {
        byte[] header = new byte[VpcDynamicHeader.Size];
        VpcDynamicHeader.Cookie.CopyTo(header);
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(VpcDynamicHeader.DataOffsetOffset), ulong.MaxValue);
        BinaryPrimitives.WriteInt64BigEndian(header.AsSpan(VpcDynamicHeader.TableOffsetOffset), BatOffset);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(VpcDynamicHeader.HeaderVersionOffset), VpcFooter.Version1);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(VpcDynamicHeader.MaxTableEntriesOffset), (int)entries);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(VpcDynamicHeader.BlockSizeOffset), blockSize);
        byte[] bat = new byte[(entries * 4 + 511) & ~511L];
        bat.AsSpan().Fill(0xFF);
        long at = BatOffset + bat.Length;
        (uint Code, byte[] Data)[] locators = parentFields?.Invoke(header) ?? [];
        for (int i = 0; i < locators.Length; i++)
        {
            int space = (locators[i].Data.Length + 511) & ~511;
            Span<byte> e = header.AsSpan(VpcDynamicHeader.ParentLocatorsOffset + i * VpcDynamicHeader.ParentLocatorSize, VpcDynamicHeader.ParentLocatorSize);
            BinaryPrimitives.WriteUInt32BigEndian(e, locators[i].Code);
            // Data space in bytes, as Windows writes it (the specification's text says sectors; readers take either).
            BinaryPrimitives.WriteInt32BigEndian(e[4..], space);
            BinaryPrimitives.WriteInt32BigEndian(e[8..], locators[i].Data.Length);
            BinaryPrimitives.WriteInt64BigEndian(e[16..], at);
            RandomAccess.Write(file, locators[i].Data, at);
            at += space;
        }
        VpcFooter.Seal(header, VpcDynamicHeader.ChecksumOffset);
        RandomAccess.Write(file, footer, 0);
        RandomAccess.Write(file, header, DynamicHeaderOffset);
        RandomAccess.Write(file, bat, BatOffset);
        RandomAccess.Write(file, footer, at);
    }
}
