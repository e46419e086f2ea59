using System.Globalization;
using System.Text;

namespace VirtioScope.Debugger;

/// <summary>Renders command results as text, the way batch mode prints them without <c>--output json</c>.</summary>
public static class TextFormatter
{
    /// <summary>Ring entries shown per ring in text.</summary>
    public const int RingRows = 8;

    /// <summary>Formats one result (error, or the command's data), ending with a newline.</summary>
    public static string Format(CommandResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var sb = new StringBuilder();
        if (!result.Ok)
        {
            sb.Append("error: ").Append(result.Error).Append('\n');
            return sb.ToString();
        }
        switch (result.Data)
        {
            case MoveResult m:
                Line(sb, $"at access {m.To} (from {m.From}): {m.Reason}; status {m.Status}");
                foreach (EventRow e in m.Events)
                {
                    Line(sb, $"  [{e.Position}] {e.Text}");
                }
                break;
            case DeviceSnapshot s:
                Registers(sb, s);
                break;
            case QueueSnapshot q:
                Queue(sb, q);
                break;
            case RequestView r:
                Request(sb, r);
                break;
            case BackendView b:
                Backend(sb, b);
                break;
            case InfoResult i:
                Line(sb, $"source:      {i.Source}");
                Line(sb, $"medium:      {i.Medium}");
                Line(sb, $"workload:    {i.Workload}");
                Line(sb, $"transport:   {i.Transport}");
                Line(sb, $"state:       {i.State} at access {result.Position} ({i.StopReason}), {i.Completions} requests completed");
                Line(sb, $"breakpoints: {(i.Breakpoints.Count == 0 ? "none" : string.Join(", ", i.Breakpoints.Select(b => $"{b.Id}: {b.Spec}")))}");
                Backend(sb, i.Backend);
                break;
            case BreakpointRow b:
                Line(sb, $"breakpoint {b.Id}: {b.Spec}");
                break;
            case IEnumerable<BreakpointRow> list:
                Lines(sb, list.Select(b => $"breakpoint {b.Id}: {b.Spec}"), "no breakpoints");
                break;
            case IEnumerable<EventRow> events:
                Lines(sb, events.Select(e => $"#{e.Sequence} [{e.Position}] {e.Kind,-10} {e.Text}"), "no events");
                break;
            case Sources.ComposedRequest c:
                Line(sb, $"composed: {c} (submitted after the current round of the workload)");
                break;
            case IEnumerable<string> lines:
                Lines(sb, lines, "");
                break;
            case null when result.Quit:
                Line(sb, "bye");
                break;
            case null:
                break;
            default:
                Line(sb, result.Data.ToString() ?? "");
                break;
        }
        return sb.ToString();
    }

    private static void Registers(StringBuilder sb, DeviceSnapshot s)
    {
        Line(sb, $"access {s.Position}, {s.Completions} requests completed, status {s.Status}");
        foreach (RegisterRow r in s.Registers.Concat(s.Config))
        {
            string mark = s.Changed.Contains(r.Name) ? "*" : " ";
            Line(sb, $"{mark} 0x{r.Offset:x3} {r.Name,-24} {r.Hex,-20} {r.Decoded}");
        }
    }

    private static void Queue(StringBuilder sb, QueueSnapshot q)
    {
        Line(sb, $"queue {q.Index}: {q.Format}, size {q.Size} (max {q.SizeMax}), {(q.Ready ? "ready" : "not ready")}");
        Line(sb, $"  desc 0x{q.DescAddress:x} driver 0x{q.DriverAddress:x} device 0x{q.DeviceAddress:x}");
        Line(sb, $"  avail idx {Opt(q.AvailIdx)} used idx {Opt(q.UsedIdx)} last seen avail {Opt(q.LastSeenAvail)} next used {Opt(q.NextUsed)}");
        Line(sb, $"  used_event {Opt(q.UsedEvent)} avail_event {Opt(q.AvailEvent)} in flight {Opt(q.InFlight)}");
        if (q.Format == "packed")
        {
            Line(sb, $"  wrap counters: avail {q.AvailWrapCounter} used {q.UsedWrapCounter}");
            int start = q.LastSeenAvail is { } n ? Math.Max(0, n - (RingRows / 2)) : 0;
            foreach (PackedEntry e in q.PackedRing.Skip(start).Take(RingRows))
            {
                Line(sb, $"  desc[{e.Slot}] addr 0x{e.Address:x} len {e.Length} id {e.Id} {e.Flags}");
            }
        }
        else if (q.Format == "split")
        {
            int size = Math.Max(1, q.Size);
            foreach (int k in Recent(q.AvailIdx, size))
            {
                Line(sb, $"  avail[{k}] head {q.AvailRing[k].Head}");
            }
            foreach (int k in Recent(q.UsedIdx, size))
            {
                Line(sb, $"  used[{k}] id {q.UsedRing[k].Id} len {q.UsedRing[k].Length}");
            }
        }
    }

    private static IEnumerable<int> Recent(ushort? idx, int size)
    {
        int end = idx ?? 0;
        int n = Math.Min(RingRows, Math.Min(end, size));
        for (int i = end - n; i < end; i++)
        {
            yield return ((i % size) + size) % size;
        }
    }

    private static void Request(StringBuilder sb, RequestView r)
    {
        Line(sb, $"queue {r.Queue} chain {r.Id}: {r.Type} sector {r.Sector} bytes {r.DataBytes} segments {r.Segments}, status {r.Status}"
            + (r.UsedLength is { } u ? $", used length {u}" : "") + (r.Rejection is null ? "" : $", rejected: {r.Rejection}")
            + (r.ChainError == "None" ? "" : $", chain error {r.ChainError}"));
        Line(sb, $"  popped at access {r.PoppedAt}" + (r.CompletedAt is { } c ? $", completed at access {c}" : ""));
        foreach (DescriptorRow d in r.Descriptors)
        {
            Line(sb, $"  desc {d.Index}: addr 0x{d.Address:x} len {d.Length} flags {d.Flags} next {(d.Next is { } n ? n.ToString(CultureInfo.InvariantCulture) : "-")}");
            foreach (string h in d.Hex)
            {
                Line(sb, $"    {h}");
            }
        }
    }

    private static void Backend(StringBuilder sb, BackendView b)
    {
        Line(sb, $"backend: {b.Format}{(b.Path is null ? "" : $" {b.Path}")}, {b.VirtualSize} bytes, writes to {b.Writes}, {b.OverlayChunks} overlay chunks");
        if (b.Request is not null)
        {
            Line(sb, $"  {b.Request}");
        }
        foreach (SectorLocation l in b.Locations)
        {
            Line(sb, $"  sectors {l.Sector}+{l.Sectors}: {l.Where}");
        }
    }

    private static string Opt<T>(T? v)
        where T : struct => v is { } x ? string.Format(CultureInfo.InvariantCulture, "{0}", x) : "-";

    private static void Lines(StringBuilder sb, IEnumerable<string> lines, string empty)
    {
        bool any = false;
        foreach (string l in lines)
        {
            sb.Append(l).Append('\n');
            any = true;
        }
        if (!any && empty.Length > 0)
        {
            sb.Append(empty).Append('\n');
        }
    }

    private static void Line(StringBuilder sb, FormattableString text) => sb.Append(text.ToString(CultureInfo.InvariantCulture)).Append('\n');

    private static void Line(StringBuilder sb, string text) => sb.Append(text).Append('\n');
}
