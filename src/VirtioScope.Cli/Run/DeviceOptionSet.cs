using System.CommandLine;
using VirtioScope.Cli.Images;
using VirtioScope.Guest.Workloads;

namespace VirtioScope.Cli.Run;

/// <summary>
/// The device and workload options that <c>run</c> and <c>debug</c> share, defined once so the two verbs take the
/// same flags with the same defaults and parse them the same way.
/// </summary>
internal sealed class DeviceOptionSet
{
    private readonly Option<string?> _memory = new("--memory") { Description = "Serve a zeroed in-memory disk of this size instead of an image (e.g. 64M)" };
    private readonly Option<bool> _readOnly = new("--readonly") { Description = "Open the medium read-only; the device offers VIRTIO_BLK_F_RO" };
    private readonly Option<string> _workload = new("--workload") { Description = $"One of: {string.Join(", ", WorkloadRunner.Names)}", DefaultValueFactory = _ => "randread" };
    private readonly Option<long> _requests = new("--requests") { Description = "Requests to issue", DefaultValueFactory = _ => 100_000 };
    private readonly Option<int> _depth = new("--queue-depth") { Description = "Requests in flight per queue", DefaultValueFactory = _ => 64 };
    private readonly Option<string> _blockSize = new("--block-size") { Description = "Bytes per read/write request (e.g. 4k, 1M)", DefaultValueFactory = _ => "4k" };
    private readonly Option<int> _rwMix = new("--rw-mix") { Description = "Percentage of reads in randrw", DefaultValueFactory = _ => 50 };
    private readonly Option<int> _flushEvery = new("--flush-every") { Description = "Issue a FLUSH after every N writes (0: never)" };
    private readonly Option<int> _queues = new("--queues") { Description = "Request queues (more than one negotiates VIRTIO_BLK_F_MQ)", DefaultValueFactory = _ => 1 };
    private readonly Option<bool> _packed = new("--packed") { Description = "Use packed virtqueues (VIRTIO_F_RING_PACKED)" };
    private readonly Option<bool> _noEventIdx = new("--no-event-idx") { Description = "Do not negotiate VIRTIO_F_RING_EVENT_IDX" };
    private readonly Option<bool> _noIndirect = new("--no-indirect") { Description = "Do not negotiate VIRTIO_F_RING_INDIRECT_DESC" };
    private readonly Option<bool> _legacy = new("--legacy-mmio") { Description = "Present the legacy virtio-mmio version 1 register layout" };
    private readonly Option<ulong> _seed = new("--seed") { Description = "Seed for the workload; the same seed gives the same accesses and events", DefaultValueFactory = _ => 1 };
    private readonly Option<bool> _verify = new("--verify") { Description = "Stamp written blocks with their address and a seeded checksum and check every read" };

    /// <summary>Adds every shared option to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (Option o in new Option[] { _memory, _readOnly, _workload, _requests, _depth, _blockSize, _rwMix, _flushEvery, _queues, _packed, _noEventIdx, _noIndirect, _legacy, _seed, _verify })
        {
            command.Options.Add(o);
        }
    }

    /// <summary>The shared part of the settings; throws <see cref="FormatException"/> for a bad size.</summary>
    public RunSettings Bind(ParseResult parse, string? image) => new()
    {
        Image = image,
        MemoryBytes = parse.GetValue(_memory) is { } m ? CliSupport.ParseSize(m, "--memory") : null,
        ReadOnly = parse.GetValue(_readOnly),
        Workload = parse.GetValue(_workload)!,
        Requests = parse.GetValue(_requests),
        QueueDepth = parse.GetValue(_depth),
        BlockSize = checked((int)CliSupport.ParseSize(parse.GetValue(_blockSize)!, "--block-size")),
        RwMixPercent = parse.GetValue(_rwMix),
        FlushEvery = parse.GetValue(_flushEvery),
        Queues = parse.GetValue(_queues),
        Packed = parse.GetValue(_packed),
        EventIdx = !parse.GetValue(_noEventIdx),
        Indirect = !parse.GetValue(_noIndirect),
        Legacy = parse.GetValue(_legacy),
        Seed = parse.GetValue(_seed),
        Verify = parse.GetValue(_verify),
    };

    /// <summary>Whether --memory was given (debug picks its demo image otherwise).</summary>
    public bool HasMemory(ParseResult parse) => parse.GetValue(_memory) is not null;
}
