namespace VirtioScope.Guest.Workloads;

/// <summary>Requests by how they ended.</summary>
public sealed class StatusCounts
{
    /// <summary>VIRTIO_BLK_S_OK.</summary>
    public long Ok { get; internal set; }

    /// <summary>VIRTIO_BLK_S_IOERR.</summary>
    public long IoErr { get; internal set; }

    /// <summary>VIRTIO_BLK_S_UNSUPP.</summary>
    public long Unsupp { get; internal set; }

    /// <summary>Returned by the device without a status byte written (or with a value outside the spec's three).</summary>
    public long NoStatus { get; internal set; }

    /// <summary>Abandoned by a device reset.</summary>
    public long Aborted { get; internal set; }

    /// <summary>Everything that did not end in OK.</summary>
    public long Errors => IoErr + Unsupp + NoStatus + Aborted;
}

/// <summary>How the device answered one kind of malformed request in the hostile workload.</summary>
public sealed class HostileCaseResult
{
    internal HostileCaseResult(string name, string expected)
    {
        Name = name;
        Expected = expected;
    }

    /// <summary>Name of the malformation.</summary>
    public string Name { get; }

    /// <summary>What the spec asks of the device, in words.</summary>
    public string Expected { get; }

    /// <summary>Times injected.</summary>
    public long Injected { get; internal set; }

    /// <summary>Completed with OK (a device bug for every case that must fail).</summary>
    public long Ok { get; internal set; }

    /// <summary>Completed with IOERR.</summary>
    public long IoErr { get; internal set; }

    /// <summary>Completed with UNSUPP.</summary>
    public long Unsupp { get; internal set; }

    /// <summary>Returned without a status byte (the status descriptor was unusable).</summary>
    public long NoStatus { get; internal set; }

    /// <summary>The device set DEVICE_NEEDS_RESET; the guest reset it and carried on.</summary>
    public long NeedsReset { get; internal set; }

    /// <summary>Neither completed nor flagged within the poll bound; the guest reset the device.</summary>
    public long Unanswered { get; internal set; }
}

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
