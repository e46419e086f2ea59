using System.Diagnostics;
using VirtioScope.Block;
using VirtioScope.Guest;
using VirtioScope.Guest.Workloads;
using VirtioScope.Tracing.Format;
using VirtioScope.Tracing.Recording;
using VirtioScope.Tracing.Replay;

namespace VirtioScope.Bench;

/// <summary>
/// The trace performance targets of issue 8, measured with a stopwatch (best of three after a warm-up):
/// recording's cost on 4 KiB random reads from memory (target: at most 2x), replay --verify's event rate (target:
/// 1,000,000 events/s) and the size of a 100,000-read trace (target: under 20 MB).
/// Run: dotnet run -c Release --project bench/VirtioScope.Bench -- trace-figures [REQUESTS]
/// </summary>
public static class TraceFigures
{
    private const long Disk = 256L << 20;

    public static int Run(long requests)
    {
        RecordedRunOptions options = new()
        {
            Guest = new GuestDriverOptions { QueueSize = 256, QueueDepth = 64 },
            Workload = new WorkloadOptions { Name = "randread", Requests = requests, QueueDepth = 64, BlockSize = 4096, Seed = 1, AssumeZeroedMedium = true },
            Backend = new BackendInfo { Kind = "memory", Format = "memory", VirtualSize = Disk },
            MemorySize = 128UL << 20,
        };
        using var backend = new MemoryBackend(Disk);
        string path = Path.Combine(Path.GetTempPath(), $"trace-figures-{Environment.ProcessId}.vstrace");
        try
        {
            RecordedRun.RunPlain(backend, options with { Workload = options.Workload with { Requests = 5000 } });
            double plain = Best(() => RecordedRun.RunPlain(backend, options));
            double nullSink = Best(() => RecordedRun.Run(backend, options, new NullSink()));
            double recorded = Best(() =>
            {
                using FileStream f = File.Create(path);
                RecordedRun.Run(backend, options, f);
            });
            long size = new FileInfo(path).Length;
            using TraceReader reader = TraceReader.Open(path);
            double replay = Best(() =>
            {
                ReplayResult r = TraceReplayer.Replay(reader, new MemoryBackend(Disk), new ReplayOptions { Verify = true });
                if (r.Divergence is not null)
                {
                    throw new InvalidOperationException(r.Divergence.ToText());
                }
            });
            Console.WriteLine($"4 KiB random reads, QD64, memory backend, {requests} requests, {Environment.ProcessorCount} cores");
            Console.WriteLine($"  run:                      {requests / plain,12:N0} IOPS");
            Console.WriteLine($"  run, recorder, null sink: {requests / nullSink,12:N0} IOPS ({nullSink / plain:F2}x the time)");
            Console.WriteLine($"  run --record:             {requests / recorded,12:N0} IOPS ({recorded / plain:F2}x the time; target <= 2x)");
            Console.WriteLine($"  trace size:               {size / 1e6,12:F2} MB for {reader.EventCount:N0} events (target < 20 MB)");
            Console.WriteLine($"  replay --verify:          {reader.EventCount / replay,12:N0} events/s (target >= 1,000,000)");
            return 0;
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static double Best(Action run)
    {
        double best = double.MaxValue;
        for (int i = 0; i < 3; i++)
        {
            long t = Stopwatch.GetTimestamp();
            run();
            best = Math.Min(best, Stopwatch.GetElapsedTime(t).TotalSeconds);
        }
        return best;
    }

    private sealed class NullSink : ITraceSink
    {
        public void Mmio(bool isWrite, uint offset, int width, uint value) { }

        public void GuestRead(ulong address, ReadOnlySpan<byte> bytes) { }

        public void DeviceWrite(ulong address, ReadOnlySpan<byte> bytes) { }

        public void Interrupt(uint interruptStatus) { }

        public void BackendIo(BackendOp op, long offset, long length, ReadOnlySpan<byte> data) { }

        public void Request(int queue, int id, byte type, ulong sector, long dataBytes, int segments, int rejection, long timestamp) { }

        public void Completion(int queue, int id, byte status, uint usedLength, long timestamp) { }

        public void Fault(string message) { }
    }
}
