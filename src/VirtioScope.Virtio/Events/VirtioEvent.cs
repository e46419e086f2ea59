using VirtioScope.Virtio.Queues;

namespace VirtioScope.Virtio.Events;

/// <summary>
/// Something the device, a queue or the guest did. Events are only built when someone listens
/// (<see cref="EventHub.Enabled"/>), so an idle hub costs one branch per site.
/// </summary>
public abstract record VirtioEvent
{
    /// <summary>Position in the hub's stream, assigned on publish; the same run yields the same sequence.</summary>
    public long Sequence { get; internal set; }
}

/// <summary>A load or store on the register window.</summary>
public sealed record MmioAccessEvent(int Offset, int Width, uint Value, bool IsWrite) : VirtioEvent
{
    /// <summary>The register's name.</summary>
    public string Register => MmioRegisters.Name(Offset);
}

/// <summary>The driver notified a queue.</summary>
public sealed record QueueNotifyEvent(int Queue) : VirtioEvent;

/// <summary>The device popped a chain.</summary>
public sealed record ChainPoppedEvent(int Queue, ushort Id, ushort RingSlots, Descriptor[] Descriptors, ChainError Error) : VirtioEvent;

/// <summary>A device-specific request was parsed from a chain (type, start sector, data bytes, segments).</summary>
public sealed record RequestParsedEvent(int Queue, ushort Id, string Type, ulong Sector, uint DataBytes, int Segments, string? Rejection) : VirtioEvent;

/// <summary>The device called its backend.</summary>
public sealed record BackendIoEvent(int Queue, string Operation, long Offset, long Length) : VirtioEvent;

/// <summary>The device returned a chain.</summary>
public sealed record CompletionEvent(int Queue, ushort Id, byte Status, uint UsedLength) : VirtioEvent;

/// <summary>The device raised an interrupt, or the driver's suppression settings held it back.</summary>
public sealed record InterruptEvent(int Queue, uint Reason, bool Suppressed) : VirtioEvent;

/// <summary>The device status changed.</summary>
public sealed record StatusChangeEvent(DeviceStatus Old, DeviceStatus New) : VirtioEvent;

/// <summary>Something the driver did wrong that the device refused or survived.</summary>
public sealed record FaultEvent(string Message) : VirtioEvent;

/// <summary>The guest driver made a request available on a queue.</summary>
public sealed record GuestSubmitEvent(int Queue, int Slot, string Type, ulong Sector, int Length, int Descriptors) : VirtioEvent;

/// <summary>The guest driver notified a queue, or held the notification back because the device's event suppression said so.</summary>
public sealed record GuestKickEvent(int Queue, bool Suppressed) : VirtioEvent;
