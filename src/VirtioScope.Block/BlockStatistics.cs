namespace VirtioScope.Block;

/// <summary>
/// What a block device has done since it was created. Counters are updated atomically, because a vhost-user backend
/// processes each queue on its own thread.
/// </summary>
public sealed class BlockStatistics
{
    private long _requests;
    private long _bytesRead;
    private long _bytesWritten;
    private long _statusOk;
    private long _statusIoErr;
    private long _statusUnsupp;
    private long _noStatus;
    private long _flushes;

    /// <summary>Chains completed.</summary>
    public long Requests => Volatile.Read(ref _requests);

    /// <summary>Bytes read from the backend into guest memory.</summary>
    public long BytesRead => Volatile.Read(ref _bytesRead);

    /// <summary>Bytes written from guest memory to the backend.</summary>
    public long BytesWritten => Volatile.Read(ref _bytesWritten);

    /// <summary>Requests completed with VIRTIO_BLK_S_OK.</summary>
    public long StatusOk => Volatile.Read(ref _statusOk);

    /// <summary>Requests completed with VIRTIO_BLK_S_IOERR.</summary>
    public long StatusIoErr => Volatile.Read(ref _statusIoErr);

    /// <summary>Requests completed with VIRTIO_BLK_S_UNSUPP.</summary>
    public long StatusUnsupp => Volatile.Read(ref _statusUnsupp);

    /// <summary>Chains returned without a status because they had no writable last byte.</summary>
    public long NoStatus => Volatile.Read(ref _noStatus);

    /// <summary>Flushes passed to the backend.</summary>
    public long Flushes => Volatile.Read(ref _flushes);

    internal void CountRequest() => Interlocked.Increment(ref _requests);

    internal void CountNoStatus() => Interlocked.Increment(ref _noStatus);

    internal void CountFlush() => Interlocked.Increment(ref _flushes);

    internal void AddRead(long bytes) => Interlocked.Add(ref _bytesRead, bytes);

    internal void AddWritten(long bytes) => Interlocked.Add(ref _bytesWritten, bytes);

    internal void Count(BlkStatus status)
    {
        switch (status)
        {
            case BlkStatus.Ok: Interlocked.Increment(ref _statusOk); break;
            case BlkStatus.Unsupp: Interlocked.Increment(ref _statusUnsupp); break;
            default: Interlocked.Increment(ref _statusIoErr); break;
        }
    }
}
