using VirtioScope.Tracing.Format;

namespace VirtioScope.Tracing.Replay;

/// <summary>Sequential access to a recording's events with cheap look-ahead, for the replay loop and the verifier.</summary>
internal sealed class ExpectedStream(TraceReader reader)
{
    private TraceEvent[] _chunk = [];
    private long _chunkFirst;
    private long _chunkEnd = -1;

    public TraceReader Reader { get; } = reader;

    public long Count => Reader.EventCount;

    public ref readonly TraceEvent this[long number]
    {
        get
        {
            if (number < _chunkFirst || number >= _chunkEnd)
            {
                int i = Reader.ChunkOf(number);
                _chunk = Reader.ChunkArray(i);
                _chunkFirst = Reader.ChunkFirstEvent(i);
                _chunkEnd = _chunkFirst + _chunk.Length;
            }
            return ref _chunk[number - _chunkFirst];
        }
    }

    /// <summary>Number of the first register access at or after <paramref name="from"/>, or <see cref="Count"/>.</summary>
    public long NextAccess(long from)
    {
        for (long n = from; n < Count; n++)
        {
            if (this[n].Kind is RecordKind.MmioRead or RecordKind.MmioWrite)
            {
                return n;
            }
        }
        return Count;
    }

    /// <summary>The last request record before <paramref name="number"/>, looking back at most a few thousand events.</summary>
    public TraceEvent? RequestBefore(long number)
    {
        for (long n = Math.Min(number, Count - 1); n >= 0 && n > number - 4096; n--)
        {
            if (this[n].Kind == RecordKind.Request)
            {
                return this[n];
            }
        }
        return null;
    }

    public IReadOnlyList<TraceEvent> Before(long number, int count)
    {
        var list = new List<TraceEvent>();
        for (long n = Math.Max(0, number - count); n < Math.Min(number, Count); n++)
        {
            list.Add(this[n]);
        }
        return list;
    }
}
