using System.Globalization;
using System.Text;
using VirtioScope.Debugger;

namespace VirtioScope.VhostDebug;

/// <summary>Text for the vhost-user results; the debugger's own formatter renders the rest (breakpoints, events, lists).</summary>
public static class VhostTextFormatter
{
    /// <summary>Formats one result, ending with a newline.</summary>
    public static string Format(CommandResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (!result.Ok)
        {
            return TextFormatter.Format(result);
        }
        var sb = new StringBuilder();
        switch (result.Data)
        {
            case VhostMoveResult m:
                Line(sb, $"{m.State}: {m.Reason}; {m.Completions} requests completed");
                if (m.Request is { } r)
                {
                    Request(sb, r);
                }
                break;
            case RequestView view:
                Request(sb, view);
                break;
            case IEnumerable<RequestView> list:
                foreach (RequestView each in list)
                {
                    Request(sb, each);
                }
                break;
            case VhostQueueView q:
                Line(sb, $"queue {q.Index}: {q.Format}, size {q.Size}, {(q.Enabled ? "enabled" : "disabled")}, {(q.Started ? "started" : "stopped")}{(q.Error is null ? "" : $", error {q.Error}")}");
                if (q.DescAddress is { } d)
                {
                    Line(sb, $"  desc 0x{d:x} avail 0x{q.AvailAddress:x} used 0x{q.UsedAddress:x} (guest-physical)");
                }
                Line(sb, $"  avail idx {Opt(q.AvailIdx)} last avail {Opt(q.LastAvail)} used idx {Opt(q.UsedIdx)} next used {Opt(q.NextUsed)}"
                    + (q.WrapCounters is null ? "" : $" wrap {q.WrapCounters}"));
                Line(sb, $"  waiting {Opt(q.Waiting)} in flight {q.InFlight} completed {q.Completed}");
                break;
            case VhostNegotiationView v:
                Line(sb, $"features {v.Features} ({v.FeatureNames}), offered {v.OfferedFeatures}");
                Line(sb, $"protocol features {v.ProtocolFeatures} ({v.ProtocolFeatureNames})");
                foreach (VhostRegionRow m in v.Regions)
                {
                    Line(sb, $"region guest 0x{m.GuestPhys:x} size 0x{m.Size:x} user 0x{m.UserAddr:x} offset 0x{m.MmapOffset:x}");
                }
                foreach (VhostRingRow g in v.Rings)
                {
                    Line(sb, $"ring {g.Index}: size {g.Size} desc {Hex(g.Desc)} avail {Hex(g.Avail)} used {Hex(g.Used)} {(g.Enabled ? "enabled" : "disabled")}"
                        + $"{(g.Kick ? "" : ", no kick fd")}, {(g.Started ? "started" : "stopped")}, base {g.Base}, last avail {Opt(g.LastAvail)}, used idx {Opt(g.UsedIdx)}");
                }
                break;
            case VhostInfo i:
                Line(sb, $"socket:      {i.Socket}");
                Line(sb, $"image:       {i.Image}");
                Line(sb, $"state:       {i.State} ({i.Reason}), {i.Taken} requests taken, {i.Completions} completed, {i.StartedRings} ring(s) started");
                Line(sb, $"breakpoints: {(i.Breakpoints.Count == 0 ? "none" : string.Join(", ", i.Breakpoints.Select(b => $"{b.Id}: {b.Spec}")))}");
                break;
            default:
                return TextFormatter.Format(result);
        }
        return sb.ToString();
    }

    private static void Request(StringBuilder sb, RequestView r)
    {
        Line(sb, $"queue {r.Queue} chain {r.Id}: {r.Type} sector {r.Sector} bytes {r.DataBytes} segments {r.Segments}, status {r.Status}"
            + (r.UsedLength is { } u ? $", used length {u}" : "") + (r.Rejection is null ? "" : $", rejected: {r.Rejection}")
            + (r.ChainError == "None" ? "" : $", chain error {r.ChainError}"));
        Line(sb, $"  request #{r.PoppedAt}" + (r.CompletedAt is { } c ? $", completion #{c}" : ""));
        foreach (DescriptorRow d in r.Descriptors)
        {
            Line(sb, $"  desc {d.Index}: addr 0x{d.Address:x} len {d.Length} flags {d.Flags} next {(d.Next is { } n ? n.ToString(CultureInfo.InvariantCulture) : "-")}");
            foreach (string h in d.Hex)
            {
                Line(sb, $"    {h}");
            }
        }
    }

    private static string Hex(ulong? v) => v is { } x ? string.Create(CultureInfo.InvariantCulture, $"0x{x:x}") : "-";

    private static string Opt(int? v) => v is { } x ? x.ToString(CultureInfo.InvariantCulture) : "-";

    private static void Line(StringBuilder sb, FormattableString text) => sb.Append(text.ToString(CultureInfo.InvariantCulture)).Append('\n');

    private static void Line(StringBuilder sb, string text) => sb.Append(text).Append('\n');
}
