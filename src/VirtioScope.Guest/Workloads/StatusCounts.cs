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
