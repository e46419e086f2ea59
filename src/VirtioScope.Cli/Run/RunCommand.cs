using System.CommandLine;
using Serilog.Core;
using VirtioScope.Cli.Images;
using VirtioScope.Guest;
using VirtioScope.Guest.Workloads;

namespace VirtioScope.Cli.Run;

/// <summary><c>virtioscope run</c>: a spec-following guest drives the virtio-blk device over an image or memory.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var image = new Argument<string?>("IMAGE") { Description = "Disk image to serve; the format (qcow2, raw, ...) is detected by its magic", Arity = ArgumentArity.ZeroOrOne };
        var memory = new Option<string?>("--memory") { Description = "Serve a zeroed in-memory disk of this size instead of an image (e.g. 64M)" };
        var readOnly = new Option<bool>("--readonly") { Description = "Open the medium read-only; the device offers VIRTIO_BLK_F_RO" };
        var workload = new Option<string>("--workload") { Description = $"One of: {string.Join(", ", WorkloadRunner.Names)}", DefaultValueFactory = _ => "randread" };
        var requests = new Option<long>("--requests") { Description = "Requests to issue", DefaultValueFactory = _ => 100_000 };
        var depth = new Option<int>("--queue-depth") { Description = "Requests in flight per queue", DefaultValueFactory = _ => 64 };
        var blockSize = new Option<string>("--block-size") { Description = "Bytes per read/write request (e.g. 4k, 1M)", DefaultValueFactory = _ => "4k" };
        var rwMix = new Option<int>("--rw-mix") { Description = "Percentage of reads in randrw", DefaultValueFactory = _ => 50 };
        var flushEvery = new Option<int>("--flush-every") { Description = "Issue a FLUSH after every N writes (0: never)" };
        var queues = new Option<int>("--queues") { Description = "Request queues (more than one negotiates VIRTIO_BLK_F_MQ)", DefaultValueFactory = _ => 1 };
        var packed = new Option<bool>("--packed") { Description = "Use packed virtqueues (VIRTIO_F_RING_PACKED)" };
        var noEventIdx = new Option<bool>("--no-event-idx") { Description = "Do not negotiate VIRTIO_F_RING_EVENT_IDX" };
        var noIndirect = new Option<bool>("--no-indirect") { Description = "Do not negotiate VIRTIO_F_RING_INDIRECT_DESC" };
        var legacy = new Option<bool>("--legacy-mmio") { Description = "Present the legacy virtio-mmio version 1 register layout" };
        var seed = new Option<ulong>("--seed") { Description = "Seed for the workload; the same seed gives the same event sequence", DefaultValueFactory = _ => 1 };
        var verify = new Option<bool>("--verify") { Description = "Stamp written blocks with their address and a seeded checksum and check every read" };
        var output = new Option<string>("--output") { Description = "Summary format: text or json", DefaultValueFactory = _ => "text" };
        output.AcceptOnlyFromAmong("text", "json");
        var log = new Option<string?>("--log") { Description = "Write a compact JSON (CLEF) log to this file" };
        var record = new Option<string?>("--record") { Description = "Record a replayable trace (.vstrace) of the run to this file" };
        var full = new Option<bool>("--full") { Description = "With --record: keep the bytes the device writes to guest memory, not only their hashes" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log more (device faults and progress)" };

        var command = new Command("run", "Drive the virtio-blk device with a spec-following guest and report what happened")
        {
            image, memory, readOnly, workload, requests, depth, blockSize, rwMix, flushEvery, queues, packed, noEventIdx,
            noIndirect, legacy, seed, verify, output, log, record, full, verbose,
        };
        command.SetAction(parse =>
        {
            using Logger logger = Logging.Create(parse.GetValue(verbose) ? 2 : 0, parse.GetValue(log));
            RunSettings settings;
            try
            {
                settings = new RunSettings
                {
                    Image = parse.GetValue(image),
                    MemoryBytes = parse.GetValue(memory) is { } m ? CliSupport.ParseSize(m, "--memory") : null,
                    ReadOnly = parse.GetValue(readOnly),
                    Workload = parse.GetValue(workload)!,
                    Requests = parse.GetValue(requests),
                    QueueDepth = parse.GetValue(depth),
                    BlockSize = checked((int)CliSupport.ParseSize(parse.GetValue(blockSize)!, "--block-size")),
                    RwMixPercent = parse.GetValue(rwMix),
                    FlushEvery = parse.GetValue(flushEvery),
                    Queues = parse.GetValue(queues),
                    Packed = parse.GetValue(packed),
                    EventIdx = !parse.GetValue(noEventIdx),
                    Indirect = !parse.GetValue(noIndirect),
                    Legacy = parse.GetValue(legacy),
                    Seed = parse.GetValue(seed),
                    Verify = parse.GetValue(verify),
                    Json = parse.GetValue(output) == "json",
                    Record = parse.GetValue(record),
                    RecordFull = parse.GetValue(full),
                };
                settings.Validate();
            }
            catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
            {
                Console.Error.WriteLine($"virtioscope: {e.Message}");
                return ExitCodes.Usage;
            }
            return RunSession.Execute(settings, logger);
        });
        return command;
    }
}
