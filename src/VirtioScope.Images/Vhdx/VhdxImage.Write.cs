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
            if (!_writeGuidsUpdated || (e & BatStateMask) != PayloadFullyPresent)
            {
                lock (_lock)
                {
                    if (!_writeGuidsUpdated)
                    {
                        _header = WriteHeader(_file, _header, _header.LogGuid, Guid.NewGuid());
                        _writeGuidsUpdated = true;
                    }
                    e = _bat[index];
                    if ((e & BatStateMask) != PayloadFullyPresent)
                    {
                        e = AllocateBlock(index, source[..n], inBlock);
                        source = source[n..];
                        offset += n;
                        continue;
                    }
                }
            }
            RandomAccess.Write(_file, source[..n], (long)(e >> BatOffsetShift) * Mib + inBlock);
            source = source[n..];
            offset += n;
        }
    }

    /// <summary>
    /// Allocates a block at the 1 MiB-aligned end of the file, writes the data into it, then changes the BAT entry
    /// through the log: log entry written and flushed, then the BAT sector written. Caller holds the lock.
    /// </summary>
    private ulong AllocateBlock(long index, ReadOnlySpan<byte> data, int inBlock)
    {
        long blockOffset = (_fileLength + Mib - 1) / Mib * Mib;
        if (blockOffset >> BatOffsetShift >= 1L << 44)
        {
            throw new ImageException(ImageErrorKind.InvalidField, FilePath, "BAT", "the file would grow past what a BAT entry can address");
        }
        RandomAccess.SetLength(_file, blockOffset + _meta.BlockSize);
        _fileLength = blockOffset + _meta.BlockSize;
        // The new block is a fresh hole: until the BAT points at it nothing reads it, and a crash leaves zeroes, not old data.
        RandomAccess.Write(_file, data, blockOffset + inBlock);
        ulong entry = ((ulong)(blockOffset / Mib) << BatOffsetShift) | PayloadFullyPresent;
        UpdateBatEntry(index, entry);
        return entry;
    }

    private void UpdateBatEntry(long index, ulong entry)
    {
        if (_header.LogGuid == Guid.Empty)
        {
            _header = WriteHeader(_file, _header, Guid.NewGuid(), _header.DataWriteGuid);
            _logPosition = 0;
            _logSequence = 1;
        }
        long first = index & ~(VhdxLog.SectorSize / 8 - 1L);
        for (int i = 0; i < VhdxLog.SectorSize / 8; i++)
        {
            ulong v = first + i < _bat.Length ? (first + i == index ? entry : _bat[first + i]) : 0;
            BinaryPrimitives.WriteUInt64LittleEndian(_batSector.AsSpan(i * 8), v);
        }
        long batSectorOffset = _regions.BatOffset + first * 8;
        _batSectorOffset[0] = batSectorOffset;
        if (_logPosition + _logEntry.Length > _header.LogLength)
        {
            _logPosition = 0;
        }
        VhdxLogWriter.Build(_logEntry, _header.LogGuid, _logSequence, _logPosition, _fileLength, _batSector, _batSectorOffset);
        RandomAccess.Write(_file, _logEntry, _header.LogOffset + _logPosition);
        RandomAccess.FlushToDisk(_file);
        _logPosition += _logEntry.Length;
        _logSequence++;
        if (StopAfterLogWrite)
        {
            _stopped = true;
            throw new IOException("test hook: stopped after the log write");
        }
        // The BAT write becomes durable with the next log flush (before its entry's slot can be reused) or in Flush().
        RandomAccess.Write(_file, _batSector, batSectorOffset);
        Volatile.Write(ref _bat[index], entry);
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
            RandomAccess.FlushToDisk(_file);
            if (_header.LogGuid != Guid.Empty)
            {
                // Every logged change is already in place: the log no longer needs replaying.
                _header = WriteHeader(_file, _header, Guid.Empty, _header.DataWriteGuid);
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
            if (Kind(Volatile.Read(ref _bat[BatIndex(pos >> _blockShift)])) != ExtentKind.Data)
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
