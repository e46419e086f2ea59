using System.Globalization;
using VirtioScope.Debugger;

namespace VirtioScope.Tui.Views;

/// <summary>Turns engine state into the lines of each pane; no Terminal.Gui here, so it is easy to test.</summary>
public static class PaneText
{
    /// <summary>Ring rows shown around the current index.</summary>
    public const int RingWindow = 12;

    /// <summary>The registers pane: every register and config field, changed ones highlighted.</summary>
    public static List<PaneLine> Registers(DeviceSnapshot s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var lines = new List<PaneLine>();
        foreach (RegisterRow r in s.Registers)
        {
            lines.Add(Row(s, r));
        }
        lines.Add(new PaneLine("-- config space --"));
        foreach (RegisterRow r in s.Config)
        {
            lines.Add(Row(s, r));
        }
        return lines;
    }

    private static PaneLine Row(DeviceSnapshot s, RegisterRow r) =>
        new(Inv($"{r.Name,-18} {r.Hex,-12} {r.Decoded}"), s.Changed.Contains(r.Name));

    /// <summary>The queues pane: state of each queue, then the selected queue's rings.</summary>
    public static List<PaneLine> Queue(DeviceSnapshot s, int index)
    {
        ArgumentNullException.ThrowIfNull(s);
        var lines = new List<PaneLine>();
        if (index >= s.Queues.Count)
        {
            lines.Add(new PaneLine(Inv($"queue {index} does not exist")));
            return lines;
        }
        QueueSnapshot q = s.Queues[index];
        lines.Add(new PaneLine(Inv($"queue {q.Index}/{s.Queues.Count}: {q.Format}, size {q.Size}/{q.SizeMax}, {(q.Ready ? "ready" : "not ready")}")));
        lines.Add(new PaneLine(Inv($"desc 0x{q.DescAddress:x} drv 0x{q.DriverAddress:x} dev 0x{q.DeviceAddress:x}")));
        lines.Add(new PaneLine(Inv($"avail idx {O(q.AvailIdx)}  used idx {O(q.UsedIdx)}  last seen avail {O(q.LastSeenAvail)}  next used {O(q.NextUsed)}")));
        lines.Add(new PaneLine(Inv($"used_event {O(q.UsedEvent)}  avail_event {O(q.AvailEvent)}  in flight {O(q.InFlight)}")));
        if (q.Format == "split" && q.Size > 0)
        {
            lines.Add(new PaneLine(Inv($"{"avail slot",-10} {"head",5} | {"used slot",-9} {"id",5} {"len",8}")));
            int end = Math.Max(q.AvailIdx ?? 0, q.UsedIdx ?? 0);
            int start = Math.Max(0, end - RingWindow);
            for (int i = start; i < Math.Max(end, Math.Min(RingWindow, q.Size)); i++)
            {
                int k = i % q.Size;
                AvailEntry a = q.AvailRing[k];
                UsedEntry u = q.UsedRing[k];
                bool availLive = q.AvailIdx is { } ai && i < ai;
                bool usedLive = q.UsedIdx is { } ui && i < ui;
                lines.Add(new PaneLine(Inv($"{(availLive ? $"[{k}]" : ""),-10} {(availLive ? a.Head.ToString(CultureInfo.InvariantCulture) : ""),5} | {(usedLive ? $"[{k}]" : ""),-9} {(usedLive ? u.Id.ToString(CultureInfo.InvariantCulture) : ""),5} {(usedLive ? u.Length.ToString(CultureInfo.InvariantCulture) : ""),8}"),
                    q.LastSeenAvail is { } seen && k == seen % q.Size));
            }
        }
        else if (q.Format == "packed")
        {
            lines.Add(new PaneLine(Inv($"wrap counters: avail {q.AvailWrapCounter}  used {q.UsedWrapCounter}")));
            lines.Add(new PaneLine(Inv($"{"slot",5} {"address",14} {"len",7} {"id",5} flags")));
            int next = q.LastSeenAvail ?? 0;
            int start = Math.Max(0, next - (RingWindow / 2));
            foreach (PackedEntry e in q.PackedRing.Skip(start).Take(RingWindow))
            {
                lines.Add(new PaneLine(Inv($"{e.Slot,5} {"0x" + e.Address.ToString("x", CultureInfo.InvariantCulture),14} {e.Length,7} {e.Id,5} {e.Flags}"), e.Slot == next));
            }
        }
        return lines;
    }

    /// <summary>The chain pane: descriptors, the decoded request and hex of its buffers.</summary>
    public static List<PaneLine> Chain(RequestView? r)
    {
        var lines = new List<PaneLine>();
        if (r is null)
        {
            lines.Add(new PaneLine("no request yet"));
            return lines;
        }
        lines.Add(new PaneLine(Inv($"queue {r.Queue} chain {r.Id}: {r.Type} sector {r.Sector} bytes {r.DataBytes} status {r.Status}{(r.UsedLength is { } u ? $" used len {u}" : "")}"), r.Status is not "OK" and not "in flight"));
        if (r.Rejection is not null || r.ChainError != "None")
        {
            lines.Add(new PaneLine($"rejected: {r.Rejection ?? r.ChainError}", Highlight: true));
        }
        foreach (DescriptorRow d in r.Descriptors)
        {
            lines.Add(new PaneLine(Inv($"desc {d.Index}: 0x{d.Address:x} len {d.Length} {d.Flags} next {(d.Next is { } n ? n.ToString(CultureInfo.InvariantCulture) : "-")}")));
            foreach (string h in d.Hex.Take(2))
            {
                lines.Add(new PaneLine("  " + h));
            }
        }
        return lines;
    }

    /// <summary>The backend pane.</summary>
    public static List<PaneLine> Backend(BackendView b)
    {
        ArgumentNullException.ThrowIfNull(b);
        var lines = new List<PaneLine>
        {
            new(Inv($"{b.Format} {b.Path ?? ""}")),
            new(Inv($"virtual size {b.VirtualSize} bytes; writes: {b.Writes}; {b.OverlayChunks} overlay chunks")),
        };
        if (b.Request is not null)
        {
            lines.Add(new PaneLine(b.Request));
        }
        foreach (SectorLocation l in b.Locations.Take(6))
        {
            lines.Add(new PaneLine(Inv($"  {l.Sector}+{l.Sectors}: {l.Where}")));
        }
        return lines;
    }

    /// <summary>The event log pane.</summary>
    public static List<PaneLine> Events(IEnumerable<EventRecord> events) =>
        events.Select(e => new PaneLine(Inv($"#{e.Event.Sequence,-7} [{e.Position,6}] {e.Kind,-10} {e.Text}"), e.Kind is "fault" || (e.Kind == "completion" && !e.Text.Contains(" OK", StringComparison.Ordinal)))).ToList();

    private static string O<T>(T? v)
        where T : struct => v is { } x ? string.Format(CultureInfo.InvariantCulture, "{0}", x) : "-";

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
