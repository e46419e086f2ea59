namespace VirtioScope.Block;

/// <summary>What a block device has done since it was created.</summary>
public sealed class BlockStatistics
{
    /// <summary>Chains completed.</summary>
    public long Requests { get; internal set; }

    /// <summary>Bytes read from the backend into guest memory.</summary>
    public long BytesRead { get; internal set; }

    /// <summary>Bytes written from guest memory to the backend.</summary>
    public long BytesWritten { get; internal set; }

    /// <summary>Requests completed with VIRTIO_BLK_S_OK.</summary>
    public long StatusOk { get; internal set; }

    /// <summary>Requests completed with VIRTIO_BLK_S_IOERR.</summary>
    public long StatusIoErr { get; internal set; }

    /// <summary>Requests completed with VIRTIO_BLK_S_UNSUPP.</summary>
    public long StatusUnsupp { get; internal set; }

    /// <summary>Chains returned without a status because they had no writable last byte.</summary>
    public long NoStatus { get; internal set; }

    /// <summary>Flushes passed to the backend.</summary>
    public long Flushes { get; internal set; }

    internal void Count(BlkStatus status)
    {
        switch (status)
        {
            case BlkStatus.Ok: StatusOk++; break;
            case BlkStatus.Unsupp: StatusUnsupp++; break;
            default: StatusIoErr++; break;
        }
    }
}
