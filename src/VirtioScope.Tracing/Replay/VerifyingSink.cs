using VirtioScope.Tracing.Format;

namespace VirtioScope.Tracing.Replay;

/// <summary>
/// The sink of a replay: it takes the events a fresh device produces, in order, and compares each with the
/// recording; it also feeds the device the guest bytes the recording says it read. In verify mode the first
/// mismatch is kept as a <see cref="Divergence"/> and everything after is ignored.
/// </summary>
internal sealed class VerifyingSink(ExpectedStream expected, bool verify, int contextEvents) : ITraceSink
{
    private readonly ExpectedStream _expected = expected;

    /// <summary>Number of the next expected event.</summary>
    public long Next { get; set; }

    /// <summary>The first divergence, once found.</summary>
    public Divergence? Divergence { get; private set; }

    /// <summary>Events compared equal.</summary>
    public long Matched { get; private set; }

    /// <summary>Mismatches seen (without verify, replay goes on after them).</summary>
    public long Mismatches { get; private set; }

    /// <summary>Whether comparing has stopped (verify mode, after the first divergence).</summary>
    public bool Stopped => verify && Divergence is not null;

    /// <summary>Puts the recorded guest bytes in place for a device read that matches the next expected read.</summary>
    public void Feed(ulong address, Span<byte> bytes)
    {
        if (Stopped || Next >= _expected.Count)
        {
            return;
        }
        ref readonly TraceEvent e = ref _expected[Next];
        if (e.Kind == RecordKind.GuestRead && e.Address == address && e.Length == bytes.Length)
        {
            e.Data.Span.CopyTo(bytes);
        }
    }

    /// <summary>Reports that the device produced nothing where the recording has <paramref name="missing"/>.</summary>
    public void Missing(long missing, long resumeAt)
    {
        if (!Stopped)
        {
            Record(missing, new TraceEvent { Number = missing, Kind = _expected[missing].Kind }, "the device produced fewer events here", actualPresent: false);
        }
        Next = resumeAt;
    }

    public void Mmio(bool isWrite, uint offset, int width, uint value) =>
        Check(new TraceEvent { Kind = isWrite ? RecordKind.MmioWrite : RecordKind.MmioRead, Address = offset, Length = width, Value = value });

    public void GuestRead(ulong address, ReadOnlySpan<byte> bytes)
    {
        if (Stopped)
        {
            return;
        }
        if (Next < _expected.Count)
        {
            ref readonly TraceEvent e = ref _expected[Next];
            if (e.Kind == RecordKind.GuestRead && e.Address == address && e.Data.Span.SequenceEqual(bytes))
            {
                Next++;
                Matched++;
                return;
            }
        }
        Check(new TraceEvent { Kind = RecordKind.GuestRead, Address = address, Length = bytes.Length, Data = bytes.ToArray() });
    }

    public void DeviceWrite(ulong address, ReadOnlySpan<byte> bytes)
    {
        if (Stopped)
        {
            return;
        }
        ulong hash = RecordEncoder.Hash(bytes);
        if (Next < _expected.Count)
        {
            ref readonly TraceEvent e = ref _expected[Next];
            if (e.Kind == RecordKind.DeviceWrite && e.Address == address && e.Length == bytes.Length && e.Hash == hash)
            {
                Next++;
                Matched++;
                return;
            }
        }
        Check(new TraceEvent { Kind = RecordKind.DeviceWrite, Address = address, Length = bytes.Length, Hash = hash, Data = bytes.ToArray() });
    }

    public void Interrupt(uint interruptStatus) => Check(new TraceEvent { Kind = RecordKind.Interrupt, Value = interruptStatus });

    public void BackendIo(BackendOp op, long offset, long length, ReadOnlySpan<byte> data) => Check(new TraceEvent
    {
        Kind = RecordKind.BackendIo, Code = (byte)op, Address = (ulong)offset, Length = length,
        Hash = op is BackendOp.Read or BackendOp.Write ? RecordEncoder.Hash(data) : 0,
    });

    public void Request(int queue, int id, byte type, ulong sector, long dataBytes, int segments, int rejection, long timestamp) => Check(new TraceEvent
    {
        Kind = RecordKind.Request, Queue = queue, Id = id, Code = type, Address = sector, Length = dataBytes, Segments = segments,
        Value = (ulong)rejection,
    });

    public void Completion(int queue, int id, byte status, uint usedLength, long timestamp) =>
        Check(new TraceEvent { Kind = RecordKind.Completion, Queue = queue, Id = id, Code = status, Value = usedLength });

    public void Fault(string message) => Check(new TraceEvent { Kind = RecordKind.Fault, Text = message });

    private void Check(in TraceEvent actual)
    {
        if (Stopped)
        {
            return;
        }
        if (Next >= _expected.Count)
        {
            Record(Next, actual with { Number = Next }, "the recording ends but the device produced more", actualPresent: true);
            return;
        }
        ref readonly TraceEvent e = ref _expected[Next];
        string? difference = EventComparer.Difference(e, actual);
        if (difference is null)
        {
            Matched++;
        }
        else
        {
            Record(Next, actual with { Number = Next }, difference, actualPresent: true);
        }
        Next++;
    }

    private void Record(long number, in TraceEvent actual, string reason, bool actualPresent)
    {
        Mismatches++;
        if (Divergence is not null)
        {
            return;
        }
        Divergence = new Divergence
        {
            EventNumber = number,
            Reason = reason,
            Expected = number < _expected.Count ? _expected[number] : null,
            Actual = actualPresent ? actual : null,
            Request = _expected.RequestBefore(number),
            Before = _expected.Before(number, contextEvents),
        };
    }
}
