using VirtioScope.Block;

namespace VirtioScope.Debugger;

/// <summary>Everything a debug session was asked for: the medium, the device and the workload (the options of <c>run</c>).</summary>
public sealed record SessionOptions
{
    /// <summary>Size of the zeroed in-memory disk when neither an image nor a memory size is given and no demo image applies.</summary>
    public const long DefaultMemoryDisk = 64L << 20;

    /// <summary>Image file to serve; null serves an in-memory disk.</summary>
    public string? ImagePath { get; init; }

    /// <summary>Size of the in-memory disk when <see cref="ImagePath"/> is null.</summary>
    public long MemoryBytes { get; init; } = DefaultMemoryDisk;

    /// <summary>Let device writes reach the image; otherwise they stay in an in-memory overlay.</summary>
    public bool WriteThroughToImage { get; init; }

    /// <summary>Offer VIRTIO_BLK_F_RO and refuse writes.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Workload name (one of the workloads of <c>run</c>).</summary>
    public string Workload { get; init; } = "randread";

    /// <summary>Requests the workload issues.</summary>
    public long Requests { get; init; } = 100_000;

    /// <summary>Requests in flight per queue.</summary>
    public int QueueDepth { get; init; } = 64;

    /// <summary>Bytes per read or write request.</summary>
    public int BlockSize { get; init; } = 4096;

    /// <summary>Percentage of reads in randrw.</summary>
    public int RwMixPercent { get; init; } = 50;

    /// <summary>Flush after every N writes (0: never).</summary>
    public int FlushEvery { get; init; }

    /// <summary>Number of request queues.</summary>
    public int Queues { get; init; } = 1;

    /// <summary>Use packed virtqueues.</summary>
    public bool Packed { get; init; }

    /// <summary>Negotiate VIRTIO_F_RING_EVENT_IDX.</summary>
    public bool EventIdx { get; init; } = true;

    /// <summary>Negotiate VIRTIO_F_RING_INDIRECT_DESC.</summary>
    public bool Indirect { get; init; } = true;

    /// <summary>Present the legacy virtio-mmio version 1 layout.</summary>
    public bool Legacy { get; init; }

    /// <summary>Workload seed: the same seed gives the same accesses, which is what stepping back relies on.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Stamp written blocks and check reads.</summary>
    public bool Verify { get; init; }

    /// <summary>Where the session first pauses: after bus discovery and the reset (default), or before the first access.</summary>
    public PausePoint PauseAt { get; init; } = PausePoint.Discovery;

    /// <summary>Record the session to this <c>.vstrace</c> file (rewritten from the start whenever the session steps back).</summary>
    public string? RecordPath { get; init; }

    /// <summary>The recording carries the bytes of the device's memory writes, not only their hashes.</summary>
    public bool RecordFullData { get; init; }

    /// <summary>
    /// Serves this backend's content instead of <see cref="ImagePath"/> or a memory disk (a recording's own copy of
    /// its original content), behind the session's overlay; null otherwise. Called once per execution.
    /// </summary>
    public Func<IBlockBackend>? BaseBackend { get; init; }

    /// <summary>What <see cref="BaseBackend"/> serves, for the info and backend views.</summary>
    public string? BaseDescription { get; init; }

    /// <summary>What the recording a trace session replays was made of (its header's description); null for the live guest.</summary>
    public string? RecordedWorkload { get; init; }
}
