using System.Buffers.Binary;
using static VirtioScope.Images.Qcow2.Qcow2Layout;

namespace VirtioScope.Images.Qcow2;

/// <summary>
/// The persistent dirty bitmaps of a qcow2 image (the bitmaps header extension, qcow2.txt "Bitmaps"): where the
/// directory and each bitmap's table live and which data clusters the tables point at. VirtioScope does not track
/// dirty bits itself; it needs the layout so <c>check</c> counts these clusters as referenced, and so a writer can
/// keep enabled bitmaps valid by marking them all dirty.
/// </summary>
internal sealed class Qcow2Bitmaps
{
    // Bitmaps extension data.
    private const int ExtNbBitmapsOffset = 0;
    private const int ExtDirectorySizeOffset = 8;
    private const int ExtDirectoryOffsetOffset = 16;
    private const int ExtLength = 24;

    // Bitmap directory entry.
    private const int EntryTableOffsetOffset = 0;
    private const int EntryTableSizeOffset = 8;
    private const int EntryFlagsOffset = 12;
    private const int EntryGranularityBitsOffset = 17;
    private const int EntryNameSizeOffset = 18;
    private const int EntryExtraDataSizeOffset = 20;
    private const int EntryFixedSize = 24;

    private const uint FlagInUse = 1u << 0;
    private const uint FlagAuto = 1u << 1;

    // QEMU's limits (block/qcow2.h).
    private const int MaxBitmaps = 65535;
    private const long MaxDirectorySize = 1024L * MaxBitmaps;
    private const uint MaxTableSize = 0x8000000;
    private const int MaxNameSize = 1023;
    private const int MinGranularityBits = 9;
    private const int MaxGranularityBits = 31;

    /// <summary>A bitmap table entry of 1: the cluster reads as all ones (every bit dirty) and has no data cluster.</summary>
    public const ulong AllOnes = 1;

    /// <summary>One bitmap: its name, table, granularity (bytes per bit), and whether QEMU keeps it updated on writes.</summary>
    public sealed record Bitmap(string Name, long TableOffset, uint TableSize, uint Flags, long Granularity)
    {
        /// <summary>Enabled ("auto"): writes must be recorded in it.</summary>
        public bool Enabled => (Flags & FlagAuto) != 0;

        /// <summary>Left in use by a writer that did not close it: inconsistent, QEMU will not trust it.</summary>
        public bool InUse => (Flags & FlagInUse) != 0;

        /// <summary>The flags by qemu-img's names, in its order.</summary>
        public IReadOnlyList<string> FlagNames => [.. InUse ? ["in-use"] : Array.Empty<string>(), .. Enabled ? ["auto"] : Array.Empty<string>()];
    }

    public long DirectoryOffset { get; }

    public long DirectorySize { get; }

    public IReadOnlyList<Bitmap> Items { get; }

    private Qcow2Bitmaps(long directoryOffset, long directorySize, IReadOnlyList<Bitmap> items)
    {
        DirectoryOffset = directoryOffset;
        DirectorySize = directorySize;
        Items = items;
    }

    /// <summary>
    /// Reads the directory when the image has bitmaps that are valid (the extension is present and its autoclear bit
    /// still set); null otherwise. Throws <see cref="ImageException"/> naming the field for any out-of-range value.
    /// </summary>
    public static Qcow2Bitmaps? Read(Qcow2Header header, Microsoft.Win32.SafeHandles.SafeFileHandle file, long fileLength, string path)
    {
        Qcow2HeaderExtension? ext = header.Extensions.Find(e => e.Type == ExtBitmaps);
        if (ext is null || (header.AutoclearFeatures & AutoclearBitmaps) == 0)
        {
            return null;
        }
        ReadOnlySpan<byte> d = ext.Data;
        if (d.Length < ExtLength)
        {
            throw Bad(path, "bitmaps extension", $"is {d.Length} bytes, needs {ExtLength}");
        }
        uint count = BinaryPrimitives.ReadUInt32BigEndian(d[ExtNbBitmapsOffset..]);
        ulong dirSize = BinaryPrimitives.ReadUInt64BigEndian(d[ExtDirectorySizeOffset..]);
        ulong dirOffset = BinaryPrimitives.ReadUInt64BigEndian(d[ExtDirectoryOffsetOffset..]);
        int cs = header.ClusterSize;
        if (count == 0 || count > MaxBitmaps)
        {
            throw Bad(path, "nb_bitmaps", $"{count} is not between 1 and {MaxBitmaps}");
        }
        if (dirSize < EntryFixedSize * (ulong)count || dirSize > MaxDirectorySize)
        {
            throw Bad(path, "bitmap_directory_size", $"{dirSize} bytes does not fit {count} bitmaps (limit {MaxDirectorySize})");
        }
        if (dirOffset % (ulong)cs != 0 || dirOffset == 0 || dirOffset > (ulong)fileLength || dirSize > (ulong)fileLength - dirOffset)
        {
            throw Bad(path, "bitmap_directory_offset", $"0x{dirOffset:x} is unaligned or the directory runs past the end of the file");
        }
        byte[] dir = new byte[dirSize];
        Raw.HostFile.ReadFull(file, dir, (long)dirOffset);
        var items = new List<Bitmap>((int)count);
        int pos = 0;
        for (int i = 0; i < count; i++)
        {
            if (pos + EntryFixedSize > dir.Length)
            {
                throw Bad(path, "bitmap directory", $"entry {i} runs past the directory");
            }
            ReadOnlySpan<byte> e = dir.AsSpan(pos);
            ulong tableOffset = BinaryPrimitives.ReadUInt64BigEndian(e[EntryTableOffsetOffset..]);
            uint tableSize = BinaryPrimitives.ReadUInt32BigEndian(e[EntryTableSizeOffset..]);
            uint flags = BinaryPrimitives.ReadUInt32BigEndian(e[EntryFlagsOffset..]);
            int granularityBits = e[EntryGranularityBitsOffset];
            int nameSize = BinaryPrimitives.ReadUInt16BigEndian(e[EntryNameSizeOffset..]);
            uint extra = BinaryPrimitives.ReadUInt32BigEndian(e[EntryExtraDataSizeOffset..]);
            long entryLength = EntryFixedSize + (long)extra + nameSize;
            if (nameSize == 0 || nameSize > MaxNameSize || pos + entryLength > dir.Length)
            {
                throw Bad(path, "bitmap directory", $"entry {i} has a name of {nameSize} bytes or runs past the directory");
            }
            if (tableSize == 0 || tableSize > MaxTableSize || tableOffset % (ulong)cs != 0 || tableOffset == 0
                || tableOffset > (ulong)fileLength || (ulong)tableSize * 8 > (ulong)fileLength - tableOffset)
            {
                throw Bad(path, "bitmap_table_offset", $"bitmap {i}: table at 0x{tableOffset:x} with {tableSize} entries is unaligned or past the end of the file");
            }
            if (granularityBits is < MinGranularityBits or > MaxGranularityBits)
            {
                throw Bad(path, "granularity_bits", $"bitmap {i}: {granularityBits} is not between {MinGranularityBits} and {MaxGranularityBits}");
            }
            string name = System.Text.Encoding.UTF8.GetString(e.Slice(EntryFixedSize + (int)extra, nameSize));
            items.Add(new Bitmap(name, (long)tableOffset, tableSize, flags, 1L << granularityBits));
            pos += (int)((entryLength + 7) & ~7L);
        }
        return new Qcow2Bitmaps((long)dirOffset, (long)dirSize, items);
    }

    /// <summary>The data cluster offsets a bitmap table points at (entries other than all-zeroes and all-ones).</summary>
    public static IEnumerable<long> DataClusters(ulong[] table)
    {
        foreach (ulong entry in table)
        {
            long host = (long)(entry & OffsetMask);
            if (host != 0)
            {
                yield return host;
            }
        }
    }

    private static ImageException Bad(string path, string field, string what) => new(ImageErrorKind.InvalidField, path, field, what);
}
