using System.Globalization;
using VirtioScope.Virtio.Events;

namespace VirtioScope.Debugger;

/// <summary>One-line descriptions of device events.</summary>
public static class EventText
{
    /// <summary>Describes <paramref name="e"/> in one line.</summary>
    public static string Describe(VirtioEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return e switch
        {
            MmioAccessEvent a => Inv($"{(a.IsWrite ? "write" : "read ")} {a.Register} (0x{a.Offset:x3}) {(a.IsWrite ? "<-" : "->")} 0x{a.Value:x}")
                + (a.Offset == Virtio.MmioRegisters.Status ? $" [{Decode.Status((byte)a.Value)}]" : ""),
            QueueNotifyEvent n => Inv($"notify queue {n.Queue}"),
            ChainPoppedEvent c => Inv($"queue {c.Queue}: chain {c.Id} popped, {c.Descriptors.Length} descriptors{(c.Error != Virtio.Queues.ChainError.None ? $", {c.Error}" : "")}"),
            RequestParsedEvent r => Inv($"queue {r.Queue}: request {r.Id} {r.Type} sector {r.Sector} bytes {r.DataBytes}{(r.Rejection is null ? "" : $" rejected: {r.Rejection}")}"),
            BackendIoEvent b => Inv($"queue {b.Queue}: backend {b.Operation} offset {b.Offset} length {b.Length}"),
            CompletionEvent c => Inv($"queue {c.Queue}: request {c.Id} completed {RequestNames.Status(c.Status)}, used length {c.UsedLength}"),
            InterruptEvent i => Inv($"interrupt queue {i.Queue} reason 0x{i.Reason:x}{(i.Suppressed ? " (suppressed)" : "")}"),
            StatusChangeEvent s => $"status {Decode.Status((byte)s.Old)} -> {Decode.Status((byte)s.New)}",
            FaultEvent f => $"fault: {f.Message}",
            _ => e.ToString(),
        };
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
