namespace VirtioScope.Block;

/// <summary>
/// What a block device has done since it was created. Each queue counts into its own stripe, because a vhost-user
/// back-end processes every queue on its own thread: plain increments, no lost updates and no atomic operations on
/// the request path. The totals add the stripes up when read.
/// </summary>
public sealed class BlockStatistics
{
    private readonly QueueCounters[] _queues;

    /// <summary>Creates counters for <paramref name="queues"/> queues.</summary>
    public BlockStatistics(int queues = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(queues, 1);
        _queues = new QueueCounters[queues];
        for (int i = 0; i < queues; i++)
        {
            _queues[i] = new QueueCounters();
        }
    }

    /// <summary>Chains completed.</summary>
    public long Requests => Sum(static c => c.Requests);

    /// <summary>Bytes read from the backend into guest memory.</summary>
    public long BytesRead => Sum(static c => c.BytesRead);

    /// <summary>Bytes written from guest memory to the backend.</summary>
    public long BytesWritten => Sum(static c => c.BytesWritten);

    /// <summary>Requests completed with VIRTIO_BLK_S_OK.</summary>
    public long StatusOk => Sum(static c => c.StatusOk);

    /// <summary>Requests completed with VIRTIO_BLK_S_IOERR.</summary>
    public long StatusIoErr => Sum(static c => c.StatusIoErr);

    /// <summary>Requests completed with VIRTIO_BLK_S_UNSUPP.</summary>
    public long StatusUnsupp => Sum(static c => c.StatusUnsupp);

    /// <summary>Chains returned without a status because they had no writable last byte.</summary>
    public long NoStatus => Sum(static c => c.NoStatus);

    /// <summary>Flushes passed to the backend.</summary>
    public long Flushes => Sum(static c => c.Flushes);

    /// <summary>The stripe of queue <paramref name="queue"/>; only that queue's thread writes it.</summary>
    internal QueueCounters Queue(int queue) => _queues[queue];

    private long Sum(Func<QueueCounters, long> field)
    {
        long total = 0;
        foreach (QueueCounters c in _queues)
        {
            total += field(c);
        }
        return total;
    }
}

/// <summary>One queue's counters (a separate object per queue, so two queue threads do not share a cache line).</summary>
internal sealed class QueueCounters
{
    public long Requests;
    public long BytesRead;
    public long BytesWritten;
    public long StatusOk;
    public long StatusIoErr;
    public long StatusUnsupp;
    public long NoStatus;
    public long Flushes;

    public void Count(BlkStatus status)
    {
        switch (status)
        {
            case BlkStatus.Ok: StatusOk++; break;
            case BlkStatus.Unsupp: StatusUnsupp++; break;
            default: StatusIoErr++; break;
        }
    }
}
