namespace VirtioScope.Memory;

/// <summary>A guest-physical byte range.</summary>
public readonly record struct GuestRange(ulong Start, ulong Length)
{
    /// <summary>One past the last address.</summary>
    public ulong End => Start + Length;
}

/// <summary>
/// Records which pages of guest memory were written through one <see cref="GuestMemory"/> view, like a dirty log.
/// One bit per 4 KiB page per region: marking is a few shifts, and draining coalesces runs into ranges.
/// </summary>
public sealed class WriteLog
{
    /// <summary>Granularity of the log.</summary>
    public const int PageShift = 12;

    private readonly IReadOnlyList<GuestRegion> _regions;
    private readonly ulong[][] _bits;

    internal WriteLog(IReadOnlyList<GuestRegion> regions)
    {
        _regions = regions;
        _bits = new ulong[regions.Count][];
        for (int i = 0; i < regions.Count; i++)
        {
            ulong pages = (regions[i].Size + (1UL << PageShift) - 1) >> PageShift;
            _bits[i] = new ulong[(pages + 63) / 64];
        }
    }

    internal void Mark(int region, ulong offset, ulong length)
    {
        if (length == 0)
        {
            return;
        }
        ulong[] bits = _bits[region];
        ulong first = offset >> PageShift;
        ulong last = (offset + length - 1) >> PageShift;
        for (ulong p = first; p <= last; p++)
        {
            bits[p >> 6] |= 1UL << (int)(p & 63);
        }
    }

    /// <summary>Returns the written pages as coalesced ranges (page-granular) and clears the log.</summary>
    public IReadOnlyList<GuestRange> Drain()
    {
        var ranges = new List<GuestRange>();
        for (int r = 0; r < _bits.Length; r++)
        {
            ulong[] bits = _bits[r];
            ulong pageCount = (_regions[r].Size + (1UL << PageShift) - 1) >> PageShift;
            ulong runStart = ulong.MaxValue;
            for (ulong p = 0; p <= pageCount; p++)
            {
                bool set = p < pageCount && (bits[p >> 6] & (1UL << (int)(p & 63))) != 0;
                if (set && runStart == ulong.MaxValue)
                {
                    runStart = p;
                }
                else if (!set && runStart != ulong.MaxValue)
                {
                    ulong start = _regions[r].GuestBase + (runStart << PageShift);
                    ulong end = Math.Min(_regions[r].GuestBase + (p << PageShift), _regions[r].GuestEnd);
                    ranges.Add(new GuestRange(start, end - start));
                    runStart = ulong.MaxValue;
                }
            }
            Array.Clear(bits);
        }
        return ranges;
    }
}
