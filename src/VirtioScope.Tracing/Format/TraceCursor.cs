namespace VirtioScope.Tracing.Format;

/// <summary>
/// A position in a trace that steps forward and back and jumps to any event through the index: what a debugger
/// drives. Moving within a chunk costs nothing; crossing into another chunk decodes it (the reader keeps two).
/// </summary>
public sealed class TraceCursor(TraceReader reader)
{
    private readonly TraceReader _reader = reader ?? throw new ArgumentNullException(nameof(reader));

    /// <summary>Current event number, or -1 before the first event.</summary>
    public long Position { get; private set; } = -1;

    /// <summary>The event at <see cref="Position"/>.</summary>
    public TraceEvent Current => Position >= 0 ? _reader[Position] : throw new InvalidOperationException("cursor is before the first event");

    /// <summary>Events in the trace.</summary>
    public long Count => _reader.EventCount;

    /// <summary>Steps to the next event; false at the end.</summary>
    public bool MoveNext()
    {
        if (Position + 1 >= _reader.EventCount)
        {
            return false;
        }
        Position++;
        return true;
    }

    /// <summary>Steps to the previous event; false at the start.</summary>
    public bool MovePrevious()
    {
        if (Position <= 0)
        {
            return false;
        }
        Position--;
        return true;
    }

    /// <summary>Jumps to event <paramref name="number"/>.</summary>
    public void Seek(long number)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(number);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(number, _reader.EventCount);
        Position = number;
    }

    /// <summary>Steps forward to the next event of <paramref name="kind"/>; false (position unchanged) if none.</summary>
    public bool MoveNextOf(RecordKind kind) => Find(kind, +1);

    /// <summary>Steps back to the previous event of <paramref name="kind"/>; false (position unchanged) if none.</summary>
    public bool MovePreviousOf(RecordKind kind) => Find(kind, -1);

    private bool Find(RecordKind kind, int step)
    {
        for (long n = Position + step; n >= 0 && n < _reader.EventCount; n += step)
        {
            if (_reader[n].Kind == kind)
            {
                Position = n;
                return true;
            }
        }
        return false;
    }
}
