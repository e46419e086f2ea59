using VirtioScope.Images.Raw;

namespace VirtioScope.Images.Vpc;

/// <summary>
/// <c>check</c> for VHD: both footer copies (cookie, checksum, the same content), the dynamic header checksum, BAT
/// entries outside the file or over the metadata, and blocks overlapping each other.
/// </summary>
public sealed partial class VpcImage : ICheckableImage
{
    private List<string> _openProblems = [];

    /// <inheritdoc />
    public CheckReport Check(CheckRepair repair)
    {
        var report = new CheckReport { HasAllocationCounts = false };
        foreach (string problem in _openProblems)
        {
            report.Corruptions++;
            report.Messages.Add(problem);
        }
        long length = RandomAccess.GetLength(_file);
        byte[] end = new byte[VpcFooter.Size];
        HostFile.ReadFull(_file, end, length - VpcFooter.Size);
        bool endValid = CheckFooter(report, end, "footer at the end");
        if (_dyn is not null)
        {
            byte[] start = new byte[VpcFooter.Size];
            HostFile.ReadFull(_file, start, 0);
            if (CheckFooter(report, start, "footer copy at the start") && endValid && !start.AsSpan().SequenceEqual(end))
            {
                report.Corruptions++;
                report.Messages.Add("VHD footer copy at the start differs from the footer at the end");
            }
            CheckBlockOverlaps(report);
        }
        return report;
    }

    private bool CheckFooter(CheckReport report, byte[] footer, string what)
    {
        try
        {
            VpcFooter.Parse(footer, FilePath);
            return true;
        }
        catch (ImageException e)
        {
            report.Corruptions++;
            report.Messages.Add($"VHD {what}: {e.Message}");
            return false;
        }
    }

    private void CheckBlockOverlaps(CheckReport report)
    {
        var blocks = new List<(long Start, int Index)>();
        for (int i = 0; i < _bat.Length; i++)
        {
            if (_bat[i] != Unallocated)
            {
                blocks.Add((_bat[i] * 512L, i));
            }
        }
        blocks.Sort((a, b) => a.Start.CompareTo(b.Start));
        long span = _bitmapSize + (long)_blockSize;
        for (int i = 1; i < blocks.Count; i++)
        {
            if (blocks[i].Start < blocks[i - 1].Start + span)
            {
                report.Corruptions++;
                report.Messages.Add($"VHD BAT entry {blocks[i].Index} (block at {blocks[i].Start}) overlaps BAT entry {blocks[i - 1].Index}");
            }
        }
    }
}
