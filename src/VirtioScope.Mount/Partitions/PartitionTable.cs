using VirtioScope.Images;

namespace VirtioScope.Mount.Partitions;

/// <summary>Finds the partitions of a virtual disk: GPT when the MBR is protective (type EE), else MBR, else none.</summary>
public static class PartitionTable
{
    /// <summary>The logical sector size MBR tables are read with (GPT finds its own: 512 or 4096).</summary>
    public const int SectorSize = 512;

    /// <summary>Reads the partitions of <paramref name="image"/>; an absent or unreadable table gives none.</summary>
    public static IReadOnlyList<Partition> Read(IDiskImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Read((offset, buffer) => image.Read(offset, buffer), image.VirtualSize);
    }

    /// <summary>Reads partitions through <paramref name="read"/> from a disk of <paramref name="diskSize"/> bytes.</summary>
    public static IReadOnlyList<Partition> Read(SectorReader read, long diskSize)
    {
        ArgumentNullException.ThrowIfNull(read);
        if (diskSize < 2 * SectorSize)
        {
            return [];
        }
        byte[] mbr = new byte[SectorSize];
        read(0, mbr);
        if (!MbrParser.HasSignature(mbr))
        {
            return [];
        }
        if (MbrParser.IsProtective(mbr))
        {
            return GptParser.Parse(read, diskSize);
        }
        return MbrParser.Parse(mbr, read, diskSize);
    }
}

/// <summary>Reads <paramref name="buffer"/>'s length of bytes from the disk at <paramref name="offset"/>.</summary>
public delegate void SectorReader(long offset, Span<byte> buffer);
