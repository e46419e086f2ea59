using VirtioScope.Block;
using VirtioScope.Guest;
using VirtioScope.Guest.Workloads;
using VirtioScope.Tracing.Format;
using VirtioScope.Tracing.Recording;
using VirtioScope.Tracing.Replay;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Tracing.Tests;

/// <summary>Records small runs into memory and replays them.</summary>
internal static class TraceRig
{
    public const long DiskSize = 8L << 20;

    public static RecordedRunOptions Options(string workload, bool packed = false, bool legacy = false, long requests = 40,
        bool full = false, int chunkTarget = TraceLayout.ChunkTarget, ulong seed = 7) => new()
        {
            Version = legacy ? MmioVersion.Legacy : MmioVersion.Modern,
            Guest = new GuestDriverOptions { QueueSize = 64, QueueDepth = 8, UsePacked = packed },
            Workload = new WorkloadOptions
            {
                Name = workload, Requests = requests, QueueDepth = 8, BlockSize = 4096, Seed = seed, Verify = false,
                FlushEvery = workload == "randrw" ? 5 : 0,
            },
            Backend = new BackendInfo { Kind = "memory", Format = "memory", VirtualSize = DiskSize },
            FullData = full,
            ChunkTarget = chunkTarget,
        };

    public static byte[] Record(RecordedRunOptions options, IBlockBackend? backend = null)
    {
        using IBlockBackend b = backend ?? new MemoryBackend(DiskSize);
        var stream = new MemoryStream();
        RecordedRun.Run(b, options, stream);
        return stream.ToArray();
    }

    public static TraceReader Open(byte[] trace) => TraceReader.Open(new MemoryStream(trace, writable: false));

    public static ReplayResult Replay(byte[] trace, IBlockBackend? backend = null, ReplayOptions? options = null)
    {
        using TraceReader reader = Open(trace);
        using IBlockBackend b = backend ?? new MemoryBackend(reader.Header.Backend.VirtualSize);
        return TraceReplayer.Replay(reader, b, options ?? new ReplayOptions { Verify = true });
    }
}
