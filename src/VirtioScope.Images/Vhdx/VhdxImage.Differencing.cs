using System.Buffers.Binary;
using System.Collections.Concurrent;
using VirtioScope.Images.Raw;
using static VirtioScope.Images.Vhdx.VhdxLayout;

namespace VirtioScope.Images.Vhdx;

/// <summary>
/// Differencing VHDX: a partially present block takes each logical sector from this file when its bit in the chunk's
/// sector bitmap block is set (bit 0 of byte 0 is the chunk's first sector) and from the parent otherwise.
/// </summary>
public sealed partial class VhdxImage
{
    /// <summary>Bits in one 4 KiB sector of a sector bitmap block: the unit cached and logged.</summary>
    private const int BitsPerBitmapSector = VhdxLog.SectorSize * 8;

    private const int BitmapSectorsPerBlock = (int)(Mib / VhdxLog.SectorSize);

    private static readonly byte[] EmptyBitmapSector = new byte[VhdxLog.SectorSize];

    /// <summary>Cached 4 KiB bitmap sectors, keyed by chunk * 256 + sector within the chunk's bitmap block. Replaced, never mutated.</summary>
    private readonly ConcurrentDictionary<long, byte[]> _bitmapSectors = new();

    private long BitmapBatIndex(long chunk) => chunk * (_chunkRatio + 1) + _chunkRatio;

    private void ReadParent(long offset, Span<byte> destination)
    {
        if (_parent is null)
        {
            destination.Clear();
        }
        else
        {
            _parent.Read(offset, destination);
        }
    }

    /// <summary>The bitmap sector holding the bit of virtual sector <paramref name="sector"/> (all clear when the bitmap block is absent).</summary>
    private byte[] BitmapSector(long sector)
    {
        long chunk = sector / SectorsPerBitmap;
        long key = sector / BitsPerBitmapSector;
        if (_bitmapSectors.TryGetValue(key, out byte[]? cached))
        {
            return cached;
        }
        ulong e = Volatile.Read(ref _bat[BitmapBatIndex(chunk)]);
        if ((e & BatStateMask) != SectorBitmapPresent)
        {
            return EmptyBitmapSector;
        }
        byte[] bits = new byte[VhdxLog.SectorSize];
        HostFile.ReadFull(_file, bits, (long)(e >> BatOffsetShift) * Mib + key % BitmapSectorsPerBlock * VhdxLog.SectorSize);
        return _bitmapSectors.GetOrAdd(key, bits);
    }

    private static bool Bit(byte[] bitmapSector, long sector)
    {
        int i = (int)(sector % BitsPerBitmapSector);
        return (bitmapSector[i >> 3] & (1 << (i & 7))) != 0;
    }

    /// <summary>Sectors from <paramref name="sector"/> on (at most <paramref name="max"/>) sharing its bit, within one bitmap sector.</summary>
    private int Run(long sector, long max, out bool present)
    {
        byte[] bits = BitmapSector(sector);
        present = Bit(bits, sector);
        long limit = Math.Min(max, BitsPerBitmapSector - sector % BitsPerBitmapSector);
        int n = 1;
        while (n < limit && Bit(bits, sector + n) == present)
        {
            n++;
        }
        return n;
    }

    /// <summary>Reads within one partially present block whose data starts at <paramref name="host"/> for <paramref name="offset"/>.</summary>
    private void ReadPartial(long offset, long host, Span<byte> destination)
    {
        int sectorSize = _meta.LogicalSectorSize;
        while (!destination.IsEmpty)
        {
            long sector = offset / sectorSize;
            int head = (int)(offset % sectorSize);
            long maxSectors = (head + (long)destination.Length + sectorSize - 1) / sectorSize;
            int sectors = Run(sector, maxSectors, out bool present);
            int n = (int)Math.Min(destination.Length, (long)sectors * sectorSize - head);
            if (present)
            {
                HostFile.ReadFull(_file, destination[..n], host);
            }
            else
            {
                ReadParent(offset, destination[..n]);
            }
            destination = destination[n..];
            offset += n;
            host += n;
        }
    }

    private ImageExtent PartialExtent(long offset, long length, long host)
    {
        int sectorSize = _meta.LogicalSectorSize;
        int head = (int)(offset % sectorSize);
        long maxSectors = (head + length + sectorSize - 1) / sectorSize;
        long sector = offset / sectorSize;
        long n = 0;
        bool present = false;
        while (n < maxSectors)
        {
            int sectors = Run(sector + n, maxSectors - n, out bool p);
            if (n == 0)
            {
                present = p;
            }
            else if (p != present)
            {
                break;
            }
            n += sectors;
            // A run ends at a change of bit or at the end of a bitmap sector; only the latter may continue.
            if ((sector + n) % BitsPerBitmapSector != 0)
            {
                break;
            }
        }
        long bytes = Math.Min(length, n * sectorSize - head);
        return present
            ? new ImageExtent(offset, bytes, ExtentKind.Data, FilePath, host)
            : new ImageExtent(offset, bytes, ExtentKind.Unallocated, null, -1);
    }

    /// <summary>
    /// A write into one block of a differencing image (caller holds the lock). Data goes to the file first; then the
    /// BAT entries and changed bitmap sectors are changed through one log entry.
    /// </summary>
    private void WriteDifferencing(long offset, ReadOnlySpan<byte> data)
    {
        long block = offset >> _blockShift;
        int inBlock = (int)(offset & (_meta.BlockSize - 1));
        long index = BatIndex(block);
        ulong e = _bat[index];
        int state = (int)(e & BatStateMask);
        bool whole = inBlock == 0 && data.Length == _meta.BlockSize;
        if (state == PayloadFullyPresent)
        {
            RandomAccess.Write(_file, data, (long)(e >> BatOffsetShift) * Mib + inBlock);
            return;
        }
        if (state != PayloadPartiallyPresent && (whole || state == PayloadZero))
        {
            // Nothing of the parent shows through: a fresh (zero) block holding the data is the whole content.
            AllocateBlock(index, data, inBlock);
            return;
        }
        if (whole)
        {
            RandomAccess.Write(_file, data, (long)(e >> BatOffsetShift) * Mib);
            CommitMetadata([], [(index, (e & ~BatStateMask) | PayloadFullyPresent)]);
            return;
        }
        long blockOffset = state == PayloadPartiallyPresent ? (long)(e >> BatOffsetShift) * Mib : AllocateSpace(_meta.BlockSize);
        bool partial = state == PayloadPartiallyPresent;
        WriteSectors(offset, data, blockOffset + inBlock, partial);

        int sectorSize = _meta.LogicalSectorSize;
        long firstSector = offset / sectorSize;
        long endSector = (offset + data.Length + sectorSize - 1) / sectorSize;
        long chunk = firstSector / SectorsPerBitmap;
        long bitmapIndex = BitmapBatIndex(chunk);
        ulong bitmapEntry = _bat[bitmapIndex];
        var updates = new List<(long Index, ulong Entry)>(2);
        if ((bitmapEntry & BatStateMask) != SectorBitmapPresent)
        {
            bitmapEntry = ((ulong)(AllocateSpace(Mib) / Mib) << BatOffsetShift) | SectorBitmapPresent;
            updates.Add((bitmapIndex, bitmapEntry));
        }
        if (!partial)
        {
            updates.Add((index, ((ulong)(blockOffset / Mib) << BatOffsetShift) | PayloadPartiallyPresent));
        }
        long bitmapBase = (long)(bitmapEntry >> BatOffsetShift) * Mib;
        var sectors = new List<(long Key, long FileOffset, byte[] Bits)>();
        for (long s = firstSector; s < endSector;)
        {
            long key = s / BitsPerBitmapSector;
            long stop = Math.Min(endSector, (key + 1) * BitsPerBitmapSector);
            byte[] old = BitmapSector(s);
            byte[] bits = (byte[])old.Clone();
            for (long t = s; t < stop; t++)
            {
                int i = (int)(t % BitsPerBitmapSector);
                bits[i >> 3] |= (byte)(1 << (i & 7));
            }
            if (!bits.AsSpan().SequenceEqual(old))
            {
                sectors.Add((key, bitmapBase + key % BitmapSectorsPerBlock * VhdxLog.SectorSize, bits));
            }
            s = stop;
        }
        if (sectors.Count == 0 && updates.Count == 0)
        {
            return;
        }
        CommitMetadata(sectors.Select(x => (x.FileOffset, x.Bits)).ToList(), updates);
        foreach ((long key, _, byte[] bits) in sectors)
        {
            _bitmapSectors[key] = bits;
        }
    }

    /// <summary>
    /// Writes <paramref name="data"/> at <paramref name="host"/>. A logical sector only partly covered is completed
    /// from its current content (this file's when its bit is set, else the parent's) so the whole sector can be marked present.
    /// </summary>
    private void WriteSectors(long offset, ReadOnlySpan<byte> data, long host, bool blockHasBitmap)
    {
        int sectorSize = _meta.LogicalSectorSize;
        long end = offset + data.Length;
        long headSector = offset / sectorSize * sectorSize;
        long tailSector = (end - 1) / sectorSize * sectorSize;
        bool headPartial = offset != headSector || end - headSector < sectorSize;
        bool tailPartial = end % sectorSize != 0 && tailSector != headSector;
        if (headPartial)
        {
            MergeSector(headSector, offset, data, host - (offset - headSector), blockHasBitmap);
        }
        if (tailPartial)
        {
            MergeSector(tailSector, offset, data, host + (tailSector - offset), blockHasBitmap);
        }
        long fullStart = headPartial ? headSector + sectorSize : headSector;
        long fullEnd = tailPartial ? tailSector : end;
        if (fullEnd > fullStart)
        {
            RandomAccess.Write(_file, data.Slice((int)(fullStart - offset), (int)(fullEnd - fullStart)), host + (fullStart - offset));
        }
    }

    private void MergeSector(long sectorStart, long offset, ReadOnlySpan<byte> data, long sectorHost, bool blockHasBitmap)
    {
        int sectorSize = _meta.LogicalSectorSize;
        Span<byte> sector = stackalloc byte[sectorSize];
        if (blockHasBitmap && Bit(BitmapSector(sectorStart / sectorSize), sectorStart / sectorSize))
        {
            HostFile.ReadFull(_file, sector, sectorHost);
        }
        else
        {
            ReadParent(sectorStart, sector);
        }
        long from = Math.Max(sectorStart, offset);
        long to = Math.Min(sectorStart + sectorSize, offset + data.Length);
        data.Slice((int)(from - offset), (int)(to - from)).CopyTo(sector[(int)(from - sectorStart)..]);
        RandomAccess.Write(_file, sector, sectorHost);
    }
}
