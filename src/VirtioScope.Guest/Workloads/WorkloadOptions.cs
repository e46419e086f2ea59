namespace VirtioScope.Guest.Workloads;

/// <summary>
/// What a workload does. <see cref="Name"/> is one of <see cref="WorkloadRunner.Names"/>. Runs are deterministic for a
/// given seed and options (the device completing synchronously).
/// </summary>
public sealed record WorkloadOptions
{
    /// <summary>seqread, seqwrite, randread, randwrite, randrw, flush, discard, write-zeroes, get-id or hostile.</summary>
    public string Name { get; init; } = "randread";

    /// <summary>
    /// Requests the workload issues. The verify pass adds its own reads; in the hostile workload a malformed ring
    /// update that is not a request (an avail index jump) also counts here.
    /// </summary>
    public long Requests { get; init; } = 10_000;

    /// <summary>Requests kept in flight per queue (capped by the driver's slots).</summary>
    public int QueueDepth { get; init; } = 64;

    /// <summary>Bytes per read or write (a multiple of 512); also the unit of verification and of discard/write-zeroes ranges.</summary>
    public int BlockSize { get; init; } = 4096;

    /// <summary>randrw: percentage of reads (like fio's rwmixread).</summary>
    public int RwMixPercent { get; init; } = 50;

    /// <summary>Issue a FLUSH after every N writes (0: never; the flush workload then flushes after each write).</summary>
    public int FlushEvery { get; init; }

    /// <summary>Seed of every random choice and of the verify pattern.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>
    /// Check data like fio's verify: every written block carries a header (magic, byte offset, seed, generation,
    /// length) and a CRC32C over a seeded xorshift pattern, every read is checked, and a final pass reads back every
    /// block whose contents are known. The rule for what a read must return: a block written in this run, its latest
    /// generation; a block zeroed by write-zeroes, zeroes; a block whose last write failed or was aborted by a reset,
    /// or that was discarded, is not checked (the spec leaves it unspecified); a never-written block, zeroes when
    /// <see cref="AssumeZeroedMedium"/> is set and not checked otherwise. No two requests in flight touch the same
    /// block, so the rule never depends on the order in which the device completes them.
    /// </summary>
    public bool Verify { get; init; }

    /// <summary>Never-written blocks read as zero (a fresh memory backend or new sparse file); otherwise they are not checked.</summary>
    public bool AssumeZeroedMedium { get; init; }

    /// <summary>Confines I/O to the first N bytes of the device (0: the whole capacity).</summary>
    public ulong WorkingSetBytes { get; init; }

    /// <summary>
    /// Requests submitted ahead of the workload's own (see <see cref="IRequestInterjector"/>); the hostile workload
    /// does not ask. With <see cref="Verify"/>, an interjected write may change a block the workload then checks.
    /// </summary>
    public IRequestInterjector? Interjector { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad value.</summary>
    public void Validate()
    {
        if (WorkloadRunner.IndexOf(Name) < 0)
        {
            throw new ArgumentException($"unknown workload \"{Name}\"; expected one of {string.Join(", ", WorkloadRunner.Names)}", nameof(Name));
        }
        if (Requests < 0)
        {
            throw new ArgumentException($"request count {Requests} is negative", nameof(Requests));
        }
        if (QueueDepth < 1)
        {
            throw new ArgumentException($"queue depth {QueueDepth} is below 1", nameof(QueueDepth));
        }
        if (BlockSize < 512 || BlockSize % 512 != 0)
        {
            throw new ArgumentException($"block size {BlockSize} is not a positive multiple of 512", nameof(BlockSize));
        }
        if (RwMixPercent is < 0 or > 100)
        {
            throw new ArgumentException($"read mix {RwMixPercent}% is outside 0..100", nameof(RwMixPercent));
        }
        if (FlushEvery < 0)
        {
            throw new ArgumentException($"flush interval {FlushEvery} is negative", nameof(FlushEvery));
        }
    }
}
