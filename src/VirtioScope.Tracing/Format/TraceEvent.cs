using System.Globalization;
using System.Text;
using VirtioScope.Virtio;

namespace VirtioScope.Tracing.Format;

/// <summary>
/// One decoded record. The meaning of the generic fields depends on <see cref="Kind"/> (docs/trace-format.md):
/// <see cref="Address"/> is the register offset, guest address, backend offset or sector; <see cref="Length"/> the
/// access width or byte count; <see cref="Value"/> the register value, InterruptStatus, used length or rejection.
/// </summary>
public readonly record struct TraceEvent
{
    /// <summary>Event number: the record's position in the trace, from 0.</summary>
    public long Number { get; init; }

    /// <summary>Record type.</summary>
    public RecordKind Kind { get; init; }

    /// <summary>Register offset, guest address, backend offset or sector.</summary>
    public ulong Address { get; init; }

    /// <summary>Access width or byte count.</summary>
    public long Length { get; init; }

    /// <summary>Register value, InterruptStatus, used length, IRQ level, rejection code or queue maximum.</summary>
    public ulong Value { get; init; }

    /// <summary>XxHash3 of the bytes concerned (device writes, backend I/O).</summary>
    public ulong Hash { get; init; }

    /// <summary>Queue index (requests, completions).</summary>
    public int Queue { get; init; }

    /// <summary>Chain head id (requests, completions) or segment count.</summary>
    public int Id { get; init; }

    /// <summary>Segments of a request.</summary>
    public int Segments { get; init; }

    /// <summary>Backend operation, request type or completion status.</summary>
    public byte Code { get; init; }

    /// <summary>Nanoseconds since the recording started (requests and completions; not compared).</summary>
    public long Timestamp { get; init; }

    /// <summary>Bytes carried by the record (guest reads, full device writes).</summary>
    public ReadOnlyMemory<byte> Data { get; init; }

    /// <summary>Text carried by the record (faults, notes).</summary>
    public string? Text { get; init; }

    /// <summary>One line describing the event.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"#{Number} ");
        AppendBody(sb);
        return sb.ToString();
    }

    /// <summary>The description without the event number.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        AppendBody(sb);
        return sb.ToString();
    }

    private void AppendBody(StringBuilder sb)
    {
        IFormatProvider c = CultureInfo.InvariantCulture;
        switch (Kind)
        {
            case RecordKind.MmioRead:
                sb.Append(c, $"mmio read  {RegisterName((int)Address)} (0x{Address:x3}) /{Length} -> 0x{Value:x}");
                break;
            case RecordKind.MmioReadUnvalued:
                sb.Append(c, $"mmio read  {RegisterName((int)Address)} (0x{Address:x3}) /{Length} -> (not logged)");
                break;
            case RecordKind.MmioWrite:
                sb.Append(c, $"mmio write {RegisterName((int)Address)} (0x{Address:x3}) /{Length} <- 0x{Value:x}");
                break;
            case RecordKind.GuestRead:
                sb.Append(c, $"device reads guest 0x{Address:x} len {Length}: {Preview(Data.Span)}");
                break;
            case RecordKind.DeviceWrite:
                sb.Append(c, $"device writes guest 0x{Address:x} len {Length} hash {Hash:x16}");
                if (!Data.IsEmpty)
                {
                    sb.Append(c, $": {Preview(Data.Span)}");
                }
                break;
            case RecordKind.Interrupt:
                sb.Append(c, $"interrupt, InterruptStatus 0x{Value:x}");
                break;
            case RecordKind.IrqLevel:
                sb.Append(c, $"irq level {Value}");
                break;
            case RecordKind.BackendIo:
                sb.Append(c, $"backend {(BackendOp)Code} offset {Address} len {Length}");
                if ((BackendOp)Code is BackendOp.Read or BackendOp.Write)
                {
                    sb.Append(c, $" hash {Hash:x16}");
                }
                break;
            case RecordKind.Request:
                sb.Append(c, $"request q{Queue} id {Id} {RequestCodes.TypeName(Code)} sector {Address} bytes {Length} segs {Segments}");
                if (Value != 0)
                {
                    sb.Append(c, $" rejected {RequestCodes.RejectionName((int)Value)}");
                }
                break;
            case RecordKind.Completion:
                sb.Append(c, $"complete q{Queue} id {Id} status {RequestCodes.StatusName(Code)} used {Value}");
                break;
            case RecordKind.Fault:
                sb.Append(c, $"fault: {Text}");
                break;
            case RecordKind.QueueLimit:
                sb.Append(c, $"queue size {Value} (max {Length})");
                break;
            case RecordKind.Note:
                sb.Append(c, $"note: {Text}");
                break;
            default:
                sb.Append(c, $"record kind {(int)Kind}");
                break;
        }
    }

    /// <summary>Register name for an offset in the register window (config space shown as Config+N).</summary>
    public static string RegisterName(int offset) => MmioRegisters.Name(offset);

    private static string Preview(ReadOnlySpan<byte> data)
    {
        int n = Math.Min(data.Length, 16);
        string hex = Convert.ToHexStringLower(data[..n]);
        return data.Length > n ? hex + "..." : hex;
    }
}
