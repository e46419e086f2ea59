using VirtioScope.Guest;
using VirtioScope.Guest.Workloads;

namespace VirtioScope.Cli.Run;

/// <summary>Everything <c>run</c> was asked to do, checked before anything is opened.</summary>
internal sealed record RunSettings
{
    public string? Image { get; init; }
    public long? MemoryBytes { get; init; }
    public bool ReadOnly { get; init; }
    public required string Workload { get; init; }
    public long Requests { get; init; }
    public int QueueDepth { get; init; }
    public int BlockSize { get; init; }
    public int RwMixPercent { get; init; }
    public int FlushEvery { get; init; }
    public int Queues { get; init; }
    public bool Packed { get; init; }
    public bool EventIdx { get; init; }
    public bool Indirect { get; init; }
    public bool Legacy { get; init; }
    public ulong Seed { get; init; }
    public bool Verify { get; init; }
    public bool Json { get; init; }

    /// <summary>Trace file to record to (<c>--record</c>), or null.</summary>
    public string? Record { get; init; }

    /// <summary>Whether the trace keeps the bytes of device writes (<c>--full</c>).</summary>
    public bool RecordFull { get; init; }

    /// <summary>Default in-memory disk when neither an image nor --memory is given.</summary>
    public const long DefaultMemoryDisk = 64L << 20;

    public bool IsHostile => Workload == "hostile";

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad value.</summary>
    public void Validate()
    {
        if (Image is not null && MemoryBytes is not null)
        {
            throw new ArgumentException("give either IMAGE or --memory, not both");
        }
        if (!WorkloadRunner.Names.Contains(Workload))
        {
            throw new ArgumentException($"unknown workload '{Workload}' (one of: {string.Join(", ", WorkloadRunner.Names)})");
        }
        if (Requests < 1)
        {
            throw new ArgumentException($"--requests {Requests} must be at least 1");
        }
        if (QueueDepth is < 1 or > 1024)
        {
            throw new ArgumentException($"--queue-depth {QueueDepth} must be from 1 to 1024");
        }
        if (BlockSize < 512 || BlockSize % 512 != 0 || BlockSize > (16 << 20))
        {
            throw new ArgumentException($"--block-size {BlockSize} must be a multiple of 512 up to 16M");
        }
        if (RwMixPercent is < 0 or > 100)
        {
            throw new ArgumentException($"--rw-mix {RwMixPercent} must be a percentage");
        }
        if (Queues is < 1 or > 64)
        {
            throw new ArgumentException($"--queues {Queues} must be from 1 to 64");
        }
        if (FlushEvery < 0)
        {
            throw new ArgumentException($"--flush-every {FlushEvery} must not be negative");
        }
        if (MemoryBytes is { } m && (m < 512 || m % 512 != 0 || m > Array.MaxLength))
        {
            throw new ArgumentException($"--memory {m} must be a multiple of 512 bytes up to 2 GiB");
        }
        if (Legacy && Packed)
        {
            throw new ArgumentException("--packed needs the version 2 transport: the legacy layout has no packed rings");
        }
    }
}
