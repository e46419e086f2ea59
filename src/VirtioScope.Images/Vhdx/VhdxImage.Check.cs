using System.Buffers.Binary;
using VirtioScope.Images.Raw;
using static VirtioScope.Images.Vhdx.VhdxLayout;

namespace VirtioScope.Images.Vhdx;

/// <summary>
/// <c>check</c> for VHDX: both headers and both region tables (signature and CRC-32C), BAT entries with a bad state
/// or outside the file, present blocks overlapping each other or the log, and a log that needs replaying.
/// </summary>
public sealed partial class VhdxImage : ICheckableImage
{
    private OpenState _openState = new();

    /// <inheritdoc />
    public CheckReport Check(CheckRepair repair)
    {
        var report = new CheckReport { HasAllocationCounts = false };
        if (_openState.LogPending)
        {
            // As qemu-img, a read-only check cannot look past a log that needs replaying (the BAT may be stale).
            report.CheckErrors++;
            report.Messages.Add($"VHDX log needs to be replayed: run 'virtioscope check -r all {FilePath}' or open the image read-write");
        }
        if (_openState.LogEntriesReplayed > 0)
        {
            report.CorruptionsFixed++;
            report.Messages.Add($"Repaired: replayed {_openState.LogEntriesReplayed} VHDX log entries");
        }
        byte[] block = new byte[RegionTableSize];
        foreach ((long at, int size, int crcAt, byte[] signature, string what) in new (long, int, int, byte[], string)[]
        {
            (Header1Offset, HeaderSize, HeaderChecksumOffset, HeaderSignature.ToArray(), "header 1"),
            (Header2Offset, HeaderSize, HeaderChecksumOffset, HeaderSignature.ToArray(), "header 2"),
            (RegionTable1Offset, RegionTableSize, RegionChecksumOffset, RegionSignature.ToArray(), "region table 1"),
            (RegionTable2Offset, RegionTableSize, RegionChecksumOffset, RegionSignature.ToArray(), "region table 2"),
        })
        {
            Span<byte> b = block.AsSpan(0, size);
            HostFile.ReadFull(_file, b, at);
            if (!b.StartsWith(signature) || BinaryPrimitives.ReadUInt32LittleEndian(b[crcAt..]) != Crc(b, crcAt))
            {
                report.Corruptions++;
                report.Messages.Add($"VHDX {what} at offset {at} has a bad signature or CRC-32C");
            }
        }
        foreach (string problem in _openState.BatProblems)
        {
            report.Corruptions++;
            report.Messages.Add(problem);
        }
        CheckOverlaps(report);
        return report;
    }

    private void CheckOverlaps(CheckReport report)
    {
        var used = new List<(long Start, long End, long Index)>();
        for (long i = 0; i < _bat.Length; i++)
        {
            ulong e = _bat[i];
            int state = (int)(e & BatStateMask);
            bool bitmap = i % (_chunkRatio + 1) == _chunkRatio;
            if (bitmap ? state == SectorBitmapPresent : state is PayloadFullyPresent or PayloadPartiallyPresent)
            {
                long start = (long)(e >> BatOffsetShift) * Mib;
                used.Add((start, start + (bitmap ? Mib : _meta.BlockSize), i));
            }
        }
        long logStart = _header.LogOffset;
        long logEnd = logStart + _header.LogLength;
        used.Sort((a, b) => a.Start.CompareTo(b.Start));
        long reach = 0;
        long reachIndex = -1;
        foreach ((long start, long end, long index) in used)
        {
            if (start < reach)
            {
                report.Corruptions++;
                report.Messages.Add($"VHDX BAT entry {index} (block at {start}) overlaps BAT entry {reachIndex}");
            }
            if (start < logEnd && logStart < end)
            {
                report.Corruptions++;
                report.Messages.Add($"VHDX BAT entry {index} (block at {start}) overlaps the log");
            }
            if (end > reach)
            {
                (reach, reachIndex) = (end, index);
            }
        }
    }

    /// <summary>What the open found for a later check: a pending log, replayed entries, invalid BAT entries.</summary>
    private sealed class OpenState
    {
        public bool LogPending { get; set; }

        public int LogEntriesReplayed { get; set; }

        public List<string> BatProblems { get; } = [];
    }
}
