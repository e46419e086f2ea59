using System.Buffers.Binary;
using System.Globalization;

namespace VirtioScope.Mount.Partitions;

/// <summary>
/// MBR partition tables: four primary entries at byte 446, and logical partitions in the chain of extended boot
/// records inside an extended partition (types 05, 0F, 85). Numbers follow Linux: primaries 1 to 4, logicals from 5.
/// </summary>
internal static class MbrParser
{
    private const int TableOffset = 446;
    private const int EntrySize = 16;
    private const int TypeOffset = 4;
    private const int StartLbaOffset = 8;
    private const int SectorCountOffset = 12;
    private const int SignatureOffset = 510;
    private const byte ProtectiveType = 0xEE;
    private const int MaxLogical = 256;

    public static bool HasSignature(ReadOnlySpan<byte> sector) => sector[SignatureOffset] == 0x55 && sector[SignatureOffset + 1] == 0xAA;

    public static bool IsProtective(ReadOnlySpan<byte> sector)
    {
        for (int i = 0; i < 4; i++)
        {
            if (sector[TableOffset + (i * EntrySize) + TypeOffset] == ProtectiveType)
            {
                return true;
            }
        }
        return false;
    }

    private static bool IsExtended(byte type) => type is 0x05 or 0x0F or 0x85;

    public static IReadOnlyList<Partition> Parse(ReadOnlySpan<byte> mbr, SectorReader read, long diskSize)
    {
        var result = new List<Partition>();
        long extendedStart = -1;
        for (int i = 0; i < 4; i++)
        {
            (byte type, long start, long count) = Entry(mbr, i);
            if (type == 0 || count == 0)
            {
                continue;
            }
            if (IsExtended(type))
            {
                extendedStart = start;
                continue;
            }
            Add(result, i + 1, start, count, type, diskSize);
        }
        if (extendedStart > 0)
        {
            ParseLogical(result, read, extendedStart, diskSize);
        }
        return result;
    }

    private static void ParseLogical(List<Partition> result, SectorReader read, long extendedStart, long diskSize)
    {
        byte[] ebr = new byte[PartitionTable.SectorSize];
        long ebrLba = extendedStart;
        var seen = new HashSet<long>();
        int number = 5;
        while (number < 5 + MaxLogical && seen.Add(ebrLba) && (ebrLba + 1) * PartitionTable.SectorSize <= diskSize)
        {
            read(ebrLba * PartitionTable.SectorSize, ebr);
            if (!HasSignature(ebr))
            {
                return;
            }
            (byte type, long start, long count) = Entry(ebr, 0);
            if (type != 0 && count != 0)
            {
                Add(result, number++, ebrLba + start, count, type, diskSize);
            }
            (byte nextType, long next, long nextCount) = Entry(ebr, 1);
            if (!IsExtended(nextType) || nextCount == 0)
            {
                return;
            }
            ebrLba = extendedStart + next;
        }
    }

    private static (byte Type, long Start, long Count) Entry(ReadOnlySpan<byte> sector, int index)
    {
        ReadOnlySpan<byte> e = sector.Slice(TableOffset + (index * EntrySize), EntrySize);
        return (e[TypeOffset], BinaryPrimitives.ReadUInt32LittleEndian(e[StartLbaOffset..]), BinaryPrimitives.ReadUInt32LittleEndian(e[SectorCountOffset..]));
    }

    private static void Add(List<Partition> result, int number, long startLba, long sectors, byte type, long diskSize)
    {
        long offset = startLba * PartitionTable.SectorSize;
        if (offset >= diskSize)
        {
            return;
        }
        long length = Math.Min(sectors * PartitionTable.SectorSize, diskSize - offset);
        result.Add(new Partition(number, offset, length, type.ToString("x2", CultureInfo.InvariantCulture)));
    }
}
