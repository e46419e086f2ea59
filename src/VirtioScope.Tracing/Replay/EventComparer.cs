using VirtioScope.Tracing.Format;

namespace VirtioScope.Tracing.Replay;

/// <summary>
/// Decides whether two events say the same thing: every field the device determines, never timestamps. A device
/// write with bytes and one with only a hash compare by hash.
/// </summary>
public static class EventComparer
{
    /// <summary>Null when equal, else what differs.</summary>
    public static string? Difference(in TraceEvent expected, in TraceEvent actual)
    {
        if (expected.Kind != actual.Kind)
        {
            return $"expected a {expected.Kind} record, got a {actual.Kind} record";
        }
        switch (expected.Kind)
        {
            case RecordKind.MmioRead or RecordKind.MmioWrite:
                if (expected.Address != actual.Address || expected.Length != actual.Length)
                {
                    return "register access at a different offset or width";
                }
                return expected.Value != actual.Value ? $"register {TraceEvent.RegisterName((int)expected.Address)} value differs" : null;
            case RecordKind.MmioReadUnvalued:
                return expected.Address != actual.Address || expected.Length != actual.Length ? "register access at a different offset or width" : null;
            case RecordKind.GuestRead:
                if (expected.Address != actual.Address || expected.Length != actual.Length)
                {
                    return "device read a different range of guest memory";
                }
                return expected.Data.Span.SequenceEqual(actual.Data.Span) ? null : "device read different guest bytes";
            case RecordKind.DeviceWrite:
                if (expected.Address != actual.Address || expected.Length != actual.Length)
                {
                    return "device wrote a different range of guest memory";
                }
                return expected.Hash != actual.Hash ? $"device wrote different bytes{FirstByte(expected, actual)}" : null;
            case RecordKind.Interrupt or RecordKind.IrqLevel:
                return expected.Value != actual.Value ? "interrupt status differs" : null;
            case RecordKind.BackendIo:
                if (expected.Code != actual.Code || expected.Address != actual.Address || expected.Length != actual.Length)
                {
                    return "backend called with a different operation, offset or length";
                }
                return expected.Hash != actual.Hash ? "backend data differs" : null;
            case RecordKind.Request:
                return expected.Queue != actual.Queue || expected.Id != actual.Id || expected.Code != actual.Code
                    || expected.Address != actual.Address || expected.Length != actual.Length || expected.Segments != actual.Segments
                    || expected.Value != actual.Value ? "request parsed differently" : null;
            case RecordKind.Completion:
                return expected.Queue != actual.Queue || expected.Id != actual.Id || expected.Code != actual.Code || expected.Value != actual.Value
                    ? "request completed differently" : null;
            case RecordKind.Fault or RecordKind.Note:
                return expected.Text != actual.Text ? "message differs" : null;
            case RecordKind.QueueLimit:
                return expected.Value != actual.Value || expected.Length != actual.Length ? "queue size or maximum differs" : null;
            default:
                return $"unknown record kind {(int)expected.Kind}";
        }
    }

    private static string FirstByte(in TraceEvent expected, in TraceEvent actual)
    {
        ReadOnlySpan<byte> a = expected.Data.Span;
        ReadOnlySpan<byte> b = actual.Data.Span;
        if (a.IsEmpty || b.IsEmpty)
        {
            return "";
        }
        int i = a.CommonPrefixLength(b);
        return i < Math.Min(a.Length, b.Length) ? $" (first at +{i}: 0x{a[i]:x2} expected, 0x{b[i]:x2} got)" : "";
    }
}
