using VirtioScope.Block;
using VirtioScope.Virtio;

namespace VirtioScope.Tracing.Replay;

/// <summary>How to replay a recording.</summary>
public sealed record ReplayOptions
{
    /// <summary>Compare everything the device produces with the recording and stop at the first divergence.</summary>
    public bool Verify { get; init; }

    /// <summary>Stop before the first register access numbered above this event.</summary>
    public long? Until { get; init; }

    /// <summary>Device configuration to use instead of the recorded one (to see what a changed option does).</summary>
    public BlockDeviceOptions? DeviceOptions { get; init; }

    /// <summary>Builds the device instead of <see cref="BlockDevice"/> (to test a changed device against a recording).</summary>
    public Func<IBlockBackend, BlockDeviceOptions, IVirtioDevice>? DeviceFactory { get; init; }

    /// <summary>Events shown before a divergence.</summary>
    public int ContextEvents { get; init; } = 6;
}

/// <summary>What a replay did.</summary>
public sealed record ReplayResult
{
    /// <summary>Events of the recording replayed or compared.</summary>
    public required long Events { get; init; }

    /// <summary>Register accesses driven.</summary>
    public required long Accesses { get; init; }

    /// <summary>Events that compared equal.</summary>
    public required long Matched { get; init; }

    /// <summary>Mismatching events (in verify mode, at most one: the first divergence).</summary>
    public required long Mismatches { get; init; }

    /// <summary>The first divergence, if any.</summary>
    public Divergence? Divergence { get; init; }

    /// <summary>Wall time of the replay.</summary>
    public required TimeSpan Elapsed { get; init; }
}
