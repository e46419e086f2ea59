namespace VirtioScope.Virtio.Transport;

/// <summary>Counters a transport keeps whether or not anyone listens to events.</summary>
public sealed class TransportStatistics
{
    /// <summary>QueueNotify writes that reached a live queue.</summary>
    public long Notifications { get; internal set; }

    /// <summary>Used-buffer interrupts raised.</summary>
    public long InterruptsRaised { get; internal set; }

    /// <summary>Used-buffer interrupts the driver's flags or used_event held back.</summary>
    public long InterruptsSuppressed { get; internal set; }

    /// <summary>Configuration-change interrupts raised (including DEVICE_NEEDS_RESET).</summary>
    public long ConfigInterrupts { get; internal set; }

    /// <summary>Driver mistakes that were logged and ignored.</summary>
    public long Faults { get; internal set; }

    /// <summary>Times the device entered DEVICE_NEEDS_RESET.</summary>
    public long NeedsResetCount { get; internal set; }
}

/// <summary>A queue's registers and live state, for tools.</summary>
public sealed record QueueInfo(int Index, ushort Num, ushort NumMax, bool Ready, ulong Desc, ulong Driver, ulong Device, uint Pfn, Queues.VirtQueue? Live);
