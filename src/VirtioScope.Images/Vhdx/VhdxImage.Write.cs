using System.Buffers.Binary;
using VirtioScope.Block;
using static VirtioScope.Images.Vhdx.VhdxLayout;

namespace VirtioScope.Images.Vhdx;

public sealed partial class VhdxImage
{
    private static readonly byte[] Zeros = new byte[1 << 20];
    private readonly byte[] _batSector = new byte[VhdxLog.SectorSize];
    private readonly byte[] _logEntry = new byte[VhdxLogWriter.EntryLength(1)];
    private readonly long[] _batSectorOffset = new long[1];
    private bool _writeGuidsUpdated;
    private int _logPosition;
    private ulong _logSequence;
    private bool _stopped;

    /// <summary>Test hook: stop after the log entry is flushed, before the BAT itself is written (a crash in between).</summary>
    internal bool StopAfterLogWrite { get; set; }

    /// <inheritdoc />
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        ThrowIfReadOnly();
        CheckRange(offset, source.Length);
        int blockSize = _meta.BlockSize;
        while (!source.IsEmpty)
        {
            long block = offset >> _blockShift;
            int inBlock = (int)(offset & (blockSize - 1));
            int n = Math.Min(source.Length, blockSize - inBlock);
            long index = BatIndex(block);
            ulong e = Volatile.Read(ref _bat[index]);
            if (_writeGuidsUpdated && (e & BatStateMask) == PayloadFullyPresent)
            {
                RandomAccess.Write(_file, source[..n], (long)(e >> BatOffsetShift) * Mib + inBlock);
            }
            else
            {
                lock (_lock)
                {
                    if (!_writeGuidsUpdated)
                    {
                        _header = WriteHeader(_file, _header, _header.LogGuid, Guid.NewGuid(), _cache);
                        _writeGuidsUpdated = true;
                    }
                    e = _bat[index];
                    if ((e & BatStateMask) == PayloadFullyPresent)
                    {
                        RandomAccess.Write(_file, source[..n], (long)(e >> BatOffsetShift) * Mib + inBlock);
                    }
                    else if (IsDifferencing)
                    {
                        WriteDifferencing(offset, source[..n]);
                    }
                    else
                    {
                        AllocateBlock(index, source[..n], inBlock);
                    }
                }
            }
            source = source[n..];
            offset += n;
        }
    }

    /// <summary>Reserves <paramref name="size"/> bytes at the 1 MiB-aligned end of the file (a fresh hole reading as zeroes). Caller holds the lock.</summary>
    private long AllocateSpace(long size)
    {
        long at = (_fileLength + Mib - 1) / Mib * Mib;
        if (at >> BatOffsetShift >= 1L << 44)
        {
            throw new ImageException(ImageErrorKind.InvalidField, FilePath, "BAT", "the file would grow past what a BAT entry can address");
        }
        RandomAccess.SetLength(_file, at + size);
        _fileLength = at + size;
        return at;
    }

    /// <summary>
    /// Allocates a fully present block, writes the data into it, then changes the BAT entry through the log.
    /// Caller holds the lock.
    /// </summary>
    private void AllocateBlock(long index, ReadOnlySpan<byte> data, int inBlock)
    {
        long blockOffset = AllocateSpace(_meta.BlockSize);
        // The new block is a fresh hole: until the BAT points at it nothing reads it, and a crash leaves zeroes, not old data.
        RandomAccess.Write(_file, data, blockOffset + inBlock);
        CommitMetadata([], [(index, ((ulong)(blockOffset / Mib) << BatOffsetShift) | PayloadFullyPresent)]);
    }

    /// <summary>
    /// Changes metadata through the log: one entry carrying the given 4 KiB sectors and the BAT sectors holding the
    /// changed entries is written and flushed, then the same sectors are written in place and the BAT copy in memory
    /// is updated. Caller holds the lock.
    /// </summary>
    private void CommitMetadata(List<(long FileOffset, byte[] Sector)> sectors, List<(long Index, ulong Entry)> batChanges)
    {
        if (_header.LogGuid == Guid.Empty)
        {
            _header = WriteHeader(_file, _header, Guid.NewGuid(), _header.DataWriteGuid, _cache);
            _logPosition = 0;
            _logSequence = 1;
        }
        const int perSector = VhdxLog.SectorSize / 8;
        var batSectors = new List<long>(2);
        foreach ((long index, _) in batChanges)
        {
            long first = index & ~(perSector - 1L);
            if (!batSectors.Contains(first))
            {
                batSectors.Add(first);
            }
        }
        int count = sectors.Count + batSectors.Count;
        byte[] data = count == 1 ? _batSector : new byte[count * VhdxLog.SectorSize];
        Span<long> offsets = count == 1 ? _batSectorOffset : new long[count];
        for (int s = 0; s < sectors.Count; s++)
        {
            sectors[s].Sector.CopyTo(data.AsSpan(s * VhdxLog.SectorSize));
            offsets[s] = sectors[s].FileOffset;
        }
        for (int b = 0; b < batSectors.Count; b++)
        {
            Span<byte> target = data.AsSpan((sectors.Count + b) * VhdxLog.SectorSize, VhdxLog.SectorSize);
            long first = batSectors[b];
            for (int i = 0; i < perSector; i++)
            {
                long at = first + i;
                ulong v = at < _bat.Length ? _bat[at] : 0;
                foreach ((long index, ulong entry) in batChanges)
                {
                    v = index == at ? entry : v;
                }
                BinaryPrimitives.WriteUInt64LittleEndian(target[(i * 8)..], v);
            }
            offsets[sectors.Count + b] = _regions.BatOffset + first * 8;
        }
        byte[] entryBuffer = count == 1 ? _logEntry : new byte[VhdxLogWriter.EntryLength(count)];
        if (_logPosition + entryBuffer.Length > _header.LogLength)
        {
            _logPosition = 0;
        }
        VhdxLogWriter.Build(entryBuffer, _header.LogGuid, _logSequence, _logPosition, _fileLength, data.AsSpan(0, count * VhdxLog.SectorSize), offsets);
        RandomAccess.Write(_file, entryBuffer, _header.LogOffset + _logPosition);
        _cache.Flush(_file);
        _logPosition += entryBuffer.Length;
        _logSequence++;
        if (StopAfterLogWrite)
        {
            _stopped = true;
            throw new IOException("test hook: stopped after the log write");
        }
        // These writes become durable with the next log flush (before their entry's slot can be reused) or in Flush().
        for (int s = 0; s < count; s++)
        {
            RandomAccess.Write(_file, data.AsSpan(s * VhdxLog.SectorSize, VhdxLog.SectorSize), offsets[s]);
        }
        foreach ((long index, ulong entry) in batChanges)
        {
            Volatile.Write(ref _bat[index], entry);
        }
    }

    /// <inheritdoc />
    public void Flush()
    {
        if (IsReadOnly)
        {
            return;
        }
        lock (_lock)
        {
            _cache.Flush(_file);
            if (_header.LogGuid != Guid.Empty)
            {
                // Every logged change is already in place: the log no longer needs replaying.
                _header = WriteHeader(_file, _header, Guid.Empty, _header.DataWriteGuid, _cache);
            }
        }
    }

    /// <inheritdoc />
    public void Discard(long offset, long length)
    {
        // Discard is a hint: blocks stay allocated and keep their data.
        ThrowIfReadOnly();
        CheckRange(offset, length);
    }

    /// <inheritdoc />
    public void WriteZeroes(long offset, long length, ZeroingMode mode)
    {
        ThrowIfReadOnly();
        CheckRange(offset, length);
        byte[] zeros = Zeros;
        for (long done = 0; done < length;)
        {
            long pos = offset + done;
            int n = (int)Math.Min(zeros.Length, Math.Min(length - done, _meta.BlockSize - (pos & (_meta.BlockSize - 1))));
            ulong e = Volatile.Read(ref _bat[BatIndex(pos >> _blockShift)]);
            // Absent blocks read as zeroes, except in a differencing image where they show the parent.
            if (Kind(e) == ExtentKind.Zero || (Kind(e) == ExtentKind.Unallocated && !IsDifferencing))
            {
                done += n;
                continue;
            }
            Write(pos, zeros.AsSpan(0, n));
            done += n;
        }
    }

    private void ThrowIfReadOnly()
    {
        if (IsReadOnly)
        {
            throw new ImageException(ImageErrorKind.ReadOnly, FilePath, null, "image is opened read-only");
        }
    }
}
