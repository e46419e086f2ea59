using System.Globalization;
using System.Text;
using System.Text.Json;
using VirtioScope.Tracing.Format;

namespace VirtioScope.Tracing.Replay;

/// <summary>
/// The first point where a run differs from a recording (or one trace from another): the event number, what was
/// expected and what came, the request it belongs to, and the events just before it.
/// </summary>
public sealed record Divergence
{
    /// <summary>Event number in the expected trace.</summary>
    public required long EventNumber { get; init; }

    /// <summary>What differs, in a few words.</summary>
    public required string Reason { get; init; }

    /// <summary>The recorded event, or null when the recording had ended.</summary>
    public TraceEvent? Expected { get; init; }

    /// <summary>What the device (or the other trace) produced, or null when it produced nothing there.</summary>
    public TraceEvent? Actual { get; init; }

    /// <summary>The request the expected event belongs to (the last request parsed before it), if any.</summary>
    public TraceEvent? Request { get; init; }

    /// <summary>The expected events just before.</summary>
    public IReadOnlyList<TraceEvent> Before { get; init; } = [];

    /// <summary>Multi-line text report.</summary>
    public string ToText()
    {
        var sb = new StringBuilder();
        IFormatProvider c = CultureInfo.InvariantCulture;
        sb.AppendLine(c, $"first divergence at event #{EventNumber}: {Reason}");
        sb.AppendLine(c, $"  expected: {(Expected is { } e ? e.Describe() : "(end of recording)")}");
        sb.AppendLine(c, $"  got:      {(Actual is { } a ? a.Describe() : "(nothing)")}");
        if (Request is { } r)
        {
            sb.AppendLine(c, $"  request:  {r}");
        }
        if (Before.Count > 0)
        {
            sb.AppendLine("  events before:");
            foreach (TraceEvent b in Before)
            {
                sb.AppendLine(c, $"    {b}");
            }
        }
        return sb.ToString();
    }

    /// <summary>Writes the report as a JSON object.</summary>
    public void WriteJson(Utf8JsonWriter w)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteStartObject();
        w.WriteNumber("event", EventNumber);
        w.WriteString("reason", Reason);
        w.WriteString("expected", Expected?.Describe());
        w.WriteString("actual", Actual?.Describe());
        w.WriteString("request", Request?.ToString());
        w.WriteStartArray("before");
        foreach (TraceEvent b in Before)
        {
            w.WriteStringValue(b.ToString());
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
