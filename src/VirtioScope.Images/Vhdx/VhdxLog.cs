using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using static VirtioScope.Images.Vhdx.VhdxLayout;

namespace VirtioScope.Images.Vhdx;

/// <summary>
/// The VHDX metadata log: finding the active sequence (valid entries with consecutive sequence numbers whose last
/// entry's tail lies inside the sequence, the highest such) and replaying its descriptors into the file.
/// </summary>
internal static class VhdxLog
{
    public const int SectorSize = 4096;
    public const int EntryChecksumOffset = 4;
    public const int EntryLengthOffset = 8;
    public const int EntryTailOffset = 12;
    public const int EntrySequenceOffset = 16;
    public const int EntryDescriptorCountOffset = 24;
    public const int EntryLogGuidOffset = 32;
    public const int EntryFlushedFileOffset = 48;
    public const int EntryLastFileOffset = 56;
    public const int EntryHeaderSize = 64;
    public const int DescriptorSize = 32;
    public const int DescriptorTrailingOffset = 4;
    public const int DescriptorLeadingOffset = 8;
    public const int DescriptorZeroLengthOffset = 8;
    public const int DescriptorFileOffset = 16;
    public const int DescriptorSequenceOffset = 24;
    public const int DataSequenceHighOffset = 4;
    public const int DataPayloadOffset = 8;
    public const int DataPayloadLength = 4084;
    public const int DataSequenceLowOffset = 4092;

    /// <summary>Largest log this library reads into memory for replay (the spec allows up to 4 GiB; writers use 1 MiB).</summary>
    public const long MaxLogLength = 256 * Mib;

    public static ReadOnlySpan<byte> EntrySignature => "loge"u8;

    public static ReadOnlySpan<byte> ZeroSignature => "zero"u8;

    public static ReadOnlySpan<byte> DataDescriptorSignature => "desc"u8;

    public static ReadOnlySpan<byte> DataSignature => "data"u8;

    /// <summary>One valid entry: where it is in the log, its length and sequence number.</summary>
    private readonly record struct Entry(int Position, int Length, ulong Sequence, int Tail, long FlushedFileOffset, long LastFileOffset);

    /// <summary>Whether the header says the log holds entries to replay (a non-zero log GUID).</summary>
    public static bool NeedsReplay(VhdxHeader header) => header.LogGuid != Guid.Empty;

    /// <summary>Reads the log region and returns the entries of the active sequence in order (empty when none is valid).</summary>
    public static (byte[] Log, List<(int Position, int Length)> Entries, long FlushedFileOffset) FindActiveSequence(SafeFileHandle file, VhdxHeader header, string path)
    {
        long length = header.LogLength;
        if (length > MaxLogLength)
        {
            throw new ImageException(ImageErrorKind.UnsupportedFeature, path, "log length", $"a {length}-byte log exceeds {MaxLogLength} bytes");
        }
        byte[] log = new byte[length];
        Raw.HostFile.ReadFull(file, log, header.LogOffset);
        Guid logGuid = header.LogGuid;
        List<Entry>? best = null;
        int pos = 0;
        while (pos < log.Length)
        {
            Entry? first = TryEntry(log, pos, logGuid);
            if (first is null)
            {
                pos += SectorSize;
                continue;
            }
            var seq = new List<Entry> { first.Value };
            int next = (int)((pos + (long)first.Value.Length) % log.Length);
            while (seq.Count < log.Length / SectorSize)
            {
                Entry? e = TryEntry(log, next, logGuid);
                if (e is null || e.Value.Sequence != seq[^1].Sequence + 1)
                {
                    break;
                }
                seq.Add(e.Value);
                next = (int)((next + (long)e.Value.Length) % log.Length);
            }
            // The sequence is complete when its last entry's tail points at one of its own entries.
            int tailIndex = seq.FindIndex(x => x.Position == seq[^1].Tail);
            if (tailIndex >= 0)
            {
                List<Entry> active = seq.GetRange(tailIndex, seq.Count - tailIndex);
                if (best is null || active[^1].Sequence > best[^1].Sequence)
                {
                    best = active;
                }
            }
            // Later starts inside this chain are suffixes of it and cannot end in a better sequence.
            int end = pos;
            foreach (Entry e in seq)
            {
                if (e.Position != end)
                {
                    break;
                }
                end += e.Length;
            }
            pos = end;
        }
        if (best is null)
        {
            return (log, [], 0);
        }
        return (log, best.Select(e => (e.Position, e.Length)).ToList(), best[^1].FlushedFileOffset);
    }

    private static Entry? TryEntry(byte[] log, int pos, Guid logGuid)
    {
        if (pos % SectorSize != 0 || pos > log.Length - SectorSize)
        {
            return null;
        }
        ReadOnlySpan<byte> h = log.AsSpan(pos);
        if (!h.StartsWith(EntrySignature))
        {
            return null;
        }
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(h[EntryLengthOffset..]);
        uint tail = BinaryPrimitives.ReadUInt32LittleEndian(h[EntryTailOffset..]);
        ulong sequence = BinaryPrimitives.ReadUInt64LittleEndian(h[EntrySequenceOffset..]);
        uint descriptors = BinaryPrimitives.ReadUInt32LittleEndian(h[EntryDescriptorCountOffset..]);
        if (length == 0 || length % SectorSize != 0 || length > log.Length - pos || tail % SectorSize != 0 || tail >= log.Length
            || sequence == 0 || ReadGuid(h[EntryLogGuidOffset..]) != logGuid)
        {
            return null;
        }
        ReadOnlySpan<byte> entry = log.AsSpan(pos, (int)length);
        if (BinaryPrimitives.ReadUInt32LittleEndian(entry[EntryChecksumOffset..]) != Crc(entry, EntryChecksumOffset))
        {
            return null;
        }
        long descriptorBytes = EntryHeaderSize + descriptors * (long)DescriptorSize;
        long descriptorSectors = (descriptorBytes + SectorSize - 1) / SectorSize;
        long dataSectors = 0;
        for (int i = 0; i < descriptors; i++)
        {
            if (EntryHeaderSize + (i + 1L) * DescriptorSize > length)
            {
                return null;
            }
            ReadOnlySpan<byte> d = entry.Slice(EntryHeaderSize + i * DescriptorSize, DescriptorSize);
            if (BinaryPrimitives.ReadUInt64LittleEndian(d[DescriptorSequenceOffset..]) != sequence)
            {
                return null;
            }
            if (d.StartsWith(DataDescriptorSignature))
            {
                dataSectors++;
            }
            else if (!d.StartsWith(ZeroSignature))
            {
                return null;
            }
        }
        if ((descriptorSectors + dataSectors) * SectorSize > length)
        {
            return null;
        }
        long dataIndex = 0;
        for (int i = 0; i < descriptors; i++)
        {
            ReadOnlySpan<byte> d = entry.Slice(EntryHeaderSize + i * DescriptorSize, DescriptorSize);
            if (!d.StartsWith(DataDescriptorSignature))
            {
                continue;
            }
            ReadOnlySpan<byte> s = entry.Slice((int)((descriptorSectors + dataIndex++) * SectorSize), SectorSize);
            ulong high = BinaryPrimitives.ReadUInt32LittleEndian(s[DataSequenceHighOffset..]);
            ulong low = BinaryPrimitives.ReadUInt32LittleEndian(s[DataSequenceLowOffset..]);
            if (!s.StartsWith(DataSignature) || ((high << 32) | low) != sequence)
            {
                return null;
            }
        }
        return new Entry(pos, (int)length, sequence,
            (int)tail, BinaryPrimitives.ReadInt64LittleEndian(h[EntryFlushedFileOffset..]), BinaryPrimitives.ReadInt64LittleEndian(h[EntryLastFileOffset..]));
    }

    /// <summary>
    /// Replays the active sequence into <paramref name="file"/>: data sectors and zero runs at their file offsets
    /// (each checked to lie outside the headers and the log itself), then flushes. Returns the number of entries replayed.
    /// </summary>
    public static int Replay(SafeFileHandle file, VhdxHeader header, string path)
    {
        (byte[] log, List<(int Position, int Length)> entries, long flushed) = FindActiveSequence(file, header, path);
        long fileLength = RandomAccess.GetLength(file);
        if (entries.Count > 0 && flushed > fileLength)
        {
            throw new ImageException(ImageErrorKind.Corrupt, path, "log flushed file offset", $"the log needs a file of {flushed} bytes, the file has {fileLength}");
        }
        byte[] sector = new byte[SectorSize];
        byte[] zeros = new byte[Mib];
        foreach ((int pos, int length) in entries)
        {
            ReadOnlySpan<byte> entry = log.AsSpan(pos, length);
            uint count = BinaryPrimitives.ReadUInt32LittleEndian(entry[EntryDescriptorCountOffset..]);
            long descriptorSectors = (EntryHeaderSize + count * (long)DescriptorSize + SectorSize - 1) / SectorSize;
            long dataIndex = 0;
            for (int i = 0; i < count; i++)
            {
                ReadOnlySpan<byte> d = entry.Slice(EntryHeaderSize + i * DescriptorSize, DescriptorSize);
                long target = BinaryPrimitives.ReadInt64LittleEndian(d[DescriptorFileOffset..]);
                if (d.StartsWith(DataDescriptorSignature))
                {
                    CheckTarget(header, target, SectorSize, path);
                    ReadOnlySpan<byte> s = entry.Slice((int)((descriptorSectors + dataIndex++) * SectorSize), SectorSize);
                    d.Slice(DescriptorLeadingOffset, 8).CopyTo(sector);
                    s.Slice(DataPayloadOffset, DataPayloadLength).CopyTo(sector.AsSpan(8));
                    d.Slice(DescriptorTrailingOffset, 4).CopyTo(sector.AsSpan(SectorSize - 4));
                    RandomAccess.Write(file, sector, target);
                }
                else
                {
                    long zeroLength = BinaryPrimitives.ReadInt64LittleEndian(d[DescriptorZeroLengthOffset..]);
                    if (zeroLength <= 0 || zeroLength % SectorSize != 0)
                    {
                        throw new ImageException(ImageErrorKind.InvalidField, path, "log zero descriptor", $"zero length {zeroLength} is not a positive multiple of 4 KiB");
                    }
                    CheckTarget(header, target, zeroLength, path);
                    for (long done = 0; done < zeroLength; done += zeros.Length)
                    {
                        RandomAccess.Write(file, zeros.AsSpan(0, (int)Math.Min(zeros.Length, zeroLength - done)), target + done);
                    }
                }
            }
        }
        RandomAccess.FlushToDisk(file);
        return entries.Count;
    }

    private static void CheckTarget(VhdxHeader header, long target, long length, string path)
    {
        long logEnd = header.LogOffset + header.LogLength;
        if (target < 0 || target % SectorSize != 0 || target < RegionTable1Offset || target > MaxVirtualSize * 2 - length
            || (target < logEnd && header.LogOffset < target + length))
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "log descriptor file offset", $"{length} bytes at {target} would overwrite the headers or the log, or lie beyond any VHDX");
        }
    }
}
