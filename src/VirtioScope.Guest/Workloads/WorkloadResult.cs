namespace VirtioScope.Guest.Workloads;

/// <summary>What a workload run did, for <c>virtioscope run</c>'s summary.</summary>
public sealed class WorkloadResult
{
    /// <summary>Workload name.</summary>
    public string Name { get; internal set; } = "";

    /// <summary>Requests completed, verify-pass reads and malformed requests included.</summary>
    public long Requests { get; internal set; }

    /// <summary>Bytes read by successful reads.</summary>
    public long BytesRead { get; internal set; }

    /// <summary>Bytes written by successful writes.</summary>
    public long BytesWritten { get; internal set; }

    /// <summary>Requests by status.</summary>
    public StatusCounts ErrorsByStatus { get; } = new();

    /// <summary>QueueNotify writes.</summary>
    public long Notifications { get; internal set; }

    /// <summary>Kicks the device's event suppression made unnecessary.</summary>
    public long SuppressedNotifications { get; internal set; }

    /// <summary>Interrupts taken.</summary>
    public long Interrupts { get; internal set; }

    /// <summary>Reads whose data was checked (pattern, zeroes or GET_ID consistency).</summary>
    public long Verified { get; internal set; }

    /// <summary>Checked reads whose data was wrong.</summary>
    public long VerifyFailures { get; internal set; }

    /// <summary>The first few verify failures, in words.</summary>
    public IReadOnlyList<string> VerifyFailureMessages => _messages;

    /// <summary>Device resets the guest performed to recover (DEVICE_NEEDS_RESET or an unanswered request).</summary>
    public long DeviceResets { get; internal set; }

    /// <summary>Hostile workload: outcome per malformation (empty for other workloads).</summary>
    public IReadOnlyList<HostileCaseResult> HostileCases { get; internal set; } = [];

    /// <summary>Wall time of the run.</summary>
    public TimeSpan Elapsed { get; internal set; }

    private readonly List<string> _messages = [];

    internal void AddVerifyFailure(string message)
    {
        VerifyFailures++;
        if (_messages.Count < 10)
        {
            _messages.Add(message);
        }
    }
}
