namespace VirtioScope.Guest.Workloads;

/// <summary>How the device can answer a malformed request; a case allows a set of these.</summary>
[Flags]
public enum HostileOutcome
{
    /// <summary>No outcome.</summary>
    None = 0,

    /// <summary>Completed with VIRTIO_BLK_S_OK.</summary>
    Ok = 1,

    /// <summary>Completed with VIRTIO_BLK_S_IOERR.</summary>
    IoErr = 2,

    /// <summary>Completed with VIRTIO_BLK_S_UNSUPP.</summary>
    Unsupp = 4,

    /// <summary>Returned without a status byte.</summary>
    NoStatus = 8,

    /// <summary>DEVICE_NEEDS_RESET was set.</summary>
    NeedsReset = 16,

    /// <summary>Neither returned nor flagged within the poll bound.</summary>
    Unanswered = 32,
}
