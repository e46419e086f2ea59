using System.Buffers.Binary;

namespace VirtioScope.Mount.Partitions;

/// <summary>
/// GPT: the header at LBA 1 ("EFI PART") and its partition entry array. Entries with a non-zero type GUID are
/// partitions, numbered by their index plus one as Linux does. When the primary header is damaged, the backup
/// header in the last sector is used. The logical sector size (512 or 4096, as on 4Kn disks and VHDX images with
/// 4 KiB logical sectors) is found by where the header is, since LBA 1 is at byte 512 or 4096.
/// </summary>
internal static class GptParser
{
    private const ulong Signature = 0x5452415020494645; // "EFI PART"
    private const int EntriesLbaOffset = 72;
    private const int EntryCountOffset = 80;
    private const int EntrySizeOffset = 84;
    private const int EntryFirstLba = 32;
    private const int EntryLastLba = 40;
    private const int MaxEntries = 1024;

    private static readonly int[] SectorSizes = [512, 4096];

    public static IReadOnlyList<Partition> Parse(SectorReader read, long diskSize)
    {
        byte[] header = new byte[512];
        int sector = FindHeader(read, diskSize, header, backup: false);
        if (sector == 0)
        {
            sector = FindHeader(read, diskSize, header, backup: true);
            if (sector == 0)
            {
                return [];
            }
        }
        long entriesLba = (long)BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(EntriesLbaOffset));
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(EntryCountOffset));
        uint entrySize = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(EntrySizeOffset));
        if (count == 0 || count > MaxEntries || entrySize < 128 || entrySize > 4096 || entrySize % 8 != 0)
        {
            return [];
        }
        long arrayOffset = entriesLba * sector;
        long arrayLength = count * (long)entrySize;
        if (arrayOffset <= 0 || arrayOffset + arrayLength > diskSize)
        {
            return [];
        }
        byte[] entries = new byte[arrayLength];
        read(arrayOffset, entries);
        var result = new List<Partition>();
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> e = entries.AsSpan(i * (int)entrySize, (int)entrySize);
            var type = new Guid(e[..16]);
            if (type == Guid.Empty)
            {
                continue;
            }
            long first = (long)BinaryPrimitives.ReadUInt64LittleEndian(e[EntryFirstLba..]);
            long last = (long)BinaryPrimitives.ReadUInt64LittleEndian(e[EntryLastLba..]);
            long offset = first * sector;
            if (last < first || offset >= diskSize)
            {
                continue;
            }
            long length = Math.Min((last - first + 1) * sector, diskSize - offset);
            result.Add(new Partition(i + 1, offset, length, type.ToString()));
        }
        return result;
    }

    // Looks for "EFI PART" at LBA 1 (primary) or the last LBA (backup) for each sector size; returns the size or 0.
    private static int FindHeader(SectorReader read, long diskSize, byte[] header, bool backup)
    {
        foreach (int sector in SectorSizes)
        {
            long at = backup ? ((diskSize / sector) - 1) * sector : sector;
            if (at <= 0 || at + header.Length > diskSize)
            {
                continue;
            }
            read(at, header);
            if (BinaryPrimitives.ReadUInt64LittleEndian(header) == Signature)
            {
                return sector;
            }
        }
        return 0;
    }
}
