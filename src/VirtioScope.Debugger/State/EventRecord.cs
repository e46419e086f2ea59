using VirtioScope.Virtio.Events;

namespace VirtioScope.Debugger;

/// <summary>A device event as the session keeps it: the event, the register access it happened in, and its kind.</summary>
/// <param name="Position">Number of register accesses admitted when the event happened (the access it belongs to).</param>
/// <param name="Event">The device's event.</param>
public sealed record EventRecord(long Position, VirtioEvent Event)
{
    /// <summary>Kind names accepted by <c>events N KIND</c>.</summary>
    public static IReadOnlyList<string> Kinds { get; } = ["mmio", "notify", "chain", "request", "backend", "completion", "interrupt", "status", "fault"];

    /// <summary>Short kind name of the event.</summary>
    public string Kind => Event switch
    {
        MmioAccessEvent => "mmio",
        QueueNotifyEvent => "notify",
        ChainPoppedEvent => "chain",
        RequestParsedEvent => "request",
        BackendIoEvent => "backend",
        CompletionEvent => "completion",
        InterruptEvent => "interrupt",
        StatusChangeEvent => "status",
        FaultEvent => "fault",
        _ => "other",
    };

    /// <summary>One-line description.</summary>
    public string Text => EventText.Describe(Event);
}
