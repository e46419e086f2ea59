using System.Text.Json;
using VirtioScope.Tracing.Format;

namespace VirtioScope.Cli.Trace;

/// <summary>One event as a JSON object for <c>trace show --output json</c>.</summary>
internal static class EventJson
{
    public static void Write(Utf8JsonWriter w, in TraceEvent e)
    {
        w.WriteStartObject();
        w.WriteNumber("event", e.Number);
        w.WriteString("kind", e.Kind.ToString());
        switch (e.Kind)
        {
            case RecordKind.MmioRead or RecordKind.MmioWrite or RecordKind.MmioReadUnvalued:
                w.WriteNumber("offset", e.Address);
                w.WriteString("register", TraceEvent.RegisterName((int)e.Address));
                w.WriteNumber("width", e.Length);
                if (e.Kind != RecordKind.MmioReadUnvalued)
                {
                    w.WriteNumber("value", e.Value);
                }
                break;
            case RecordKind.GuestRead or RecordKind.DeviceWrite:
                w.WriteNumber("address", e.Address);
                w.WriteNumber("length", e.Length);
                if (e.Kind == RecordKind.DeviceWrite)
                {
                    w.WriteString("hash", e.Hash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture));
                }
                if (!e.Data.IsEmpty)
                {
                    w.WriteString("data", Convert.ToHexStringLower(e.Data.Span));
                }
                break;
            case RecordKind.BackendIo:
                w.WriteString("operation", ((BackendOp)e.Code).ToString());
                w.WriteNumber("offset", e.Address);
                w.WriteNumber("length", e.Length);
                w.WriteString("hash", e.Hash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture));
                break;
            case RecordKind.Request:
                w.WriteNumber("queue", e.Queue);
                w.WriteNumber("id", e.Id);
                w.WriteString("type", RequestCodes.TypeName(e.Code));
                w.WriteNumber("sector", e.Address);
                w.WriteNumber("bytes", e.Length);
                w.WriteNumber("segments", e.Segments);
                if (e.Value != 0)
                {
                    w.WriteString("rejection", RequestCodes.RejectionName((int)e.Value));
                }
                w.WriteNumber("timeNs", e.Timestamp);
                break;
            case RecordKind.Completion:
                w.WriteNumber("queue", e.Queue);
                w.WriteNumber("id", e.Id);
                w.WriteString("status", RequestCodes.StatusName(e.Code));
                w.WriteNumber("used", e.Value);
                w.WriteNumber("timeNs", e.Timestamp);
                break;
            case RecordKind.Interrupt or RecordKind.IrqLevel:
                w.WriteNumber("value", e.Value);
                break;
            case RecordKind.QueueLimit:
                w.WriteNumber("value", e.Value);
                w.WriteNumber("max", e.Length);
                break;
            default:
                w.WriteString("message", e.Text);
                break;
        }
        w.WriteString("text", e.Describe());
        w.WriteEndObject();
    }
}
