using System.Buffers.Binary;
using static VirtioScope.Images.Vhdx.VhdxLayout;
using static VirtioScope.Images.Vhdx.VhdxLog;

namespace VirtioScope.Images.Vhdx;

/// <summary>Builds log entries: one entry carrying whole 4 KiB metadata sectors as data descriptors.</summary>
internal static class VhdxLogWriter
{
    /// <summary>Bytes an entry with <paramref name="sectors"/> data sectors occupies in the log.</summary>
    public static int EntryLength(int sectors) =>
        (int)(((EntryHeaderSize + sectors * (long)DescriptorSize + SectorSize - 1) / SectorSize + sectors) * SectorSize);

    /// <summary>
    /// Fills <paramref name="entry"/> (of <see cref="EntryLength"/> bytes) with an entry of sequence number
    /// <paramref name="sequence"/> whose data descriptors write <paramref name="sectors"/> at <paramref name="fileOffsets"/>.
    /// </summary>
    public static void Build(Span<byte> entry, Guid logGuid, ulong sequence, int tail, long fileLength,
        ReadOnlySpan<byte> sectors, ReadOnlySpan<long> fileOffsets)
    {
        int count = fileOffsets.Length;
        entry.Clear();
        EntrySignature.CopyTo(entry);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[EntryLengthOffset..], (uint)entry.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[EntryTailOffset..], (uint)tail);
        BinaryPrimitives.WriteUInt64LittleEndian(entry[EntrySequenceOffset..], sequence);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[EntryDescriptorCountOffset..], (uint)count);
        logGuid.TryWriteBytes(entry[EntryLogGuidOffset..]);
        BinaryPrimitives.WriteInt64LittleEndian(entry[EntryFlushedFileOffset..], fileLength);
        BinaryPrimitives.WriteInt64LittleEndian(entry[EntryLastFileOffset..], fileLength);
        int descriptorSectors = (EntryHeaderSize + count * DescriptorSize + SectorSize - 1) / SectorSize;
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> data = sectors.Slice(i * SectorSize, SectorSize);
            Span<byte> d = entry.Slice(EntryHeaderSize + i * DescriptorSize, DescriptorSize);
            DataDescriptorSignature.CopyTo(d);
            data.Slice(SectorSize - 4, 4).CopyTo(d[DescriptorTrailingOffset..]);
            data[..8].CopyTo(d[DescriptorLeadingOffset..]);
            BinaryPrimitives.WriteInt64LittleEndian(d[DescriptorFileOffset..], fileOffsets[i]);
            BinaryPrimitives.WriteUInt64LittleEndian(d[DescriptorSequenceOffset..], sequence);
            Span<byte> s = entry.Slice((descriptorSectors + i) * SectorSize, SectorSize);
            DataSignature.CopyTo(s);
            BinaryPrimitives.WriteUInt32LittleEndian(s[DataSequenceHighOffset..], (uint)(sequence >> 32));
            data.Slice(DataPayloadOffset, DataPayloadLength).CopyTo(s[DataPayloadOffset..]);
            BinaryPrimitives.WriteUInt32LittleEndian(s[DataSequenceLowOffset..], (uint)sequence);
        }
        Seal(entry, EntryChecksumOffset);
    }
}
