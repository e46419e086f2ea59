namespace VirtioScope.Guest;

/// <summary>One range of a discard or write-zeroes request (le64 sector, le32 num_sectors, le32 flags).</summary>
/// <param name="Sector">First sector.</param>
/// <param name="SectorCount">Number of sectors.</param>
/// <param name="Flags">Bit 0: unmap (write-zeroes only).</param>
public readonly record struct BlkSegment(ulong Sector, uint SectorCount, uint Flags = 0);
