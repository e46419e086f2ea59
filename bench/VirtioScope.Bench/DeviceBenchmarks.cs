using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Jobs;

namespace VirtioScope.Bench;

/// <summary>
/// End to end on the memory backend, one queue: the guest fills descriptors, kicks through MMIO, the device pops,
/// parses, copies and completes, the guest reaps. One operation is one request.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RuntimeMoniker.Net10_0, warmupCount: 3, iterationCount: 10)]
public class DeviceBenchmarks
{
    private const int RandomBatch = 65536;
    private const int SequentialBatch = 1024;
    private DeviceRig _random = null!;
    private DeviceRig _sequential = null!;
    private byte[] _source = null!;
    private byte[] _target = null!;
    private ulong _rng = 0x9E3779B97F4A7C15;

    [GlobalSetup]
    public void Setup()
    {
        _random = new DeviceRig(64L << 20, queueDepth: 64, requestBytes: 4096); // run's default memory disk
        _sequential = new DeviceRig(256L << 20, queueDepth: 16, requestBytes: 1 << 20);
        _source = GC.AllocateArray<byte>(256 << 20, pinned: true);
        _target = GC.AllocateArray<byte>(16 << 20, pinned: true);
        new Random(1).NextBytes(_source);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _random.Dispose();
        _sequential.Dispose();
    }

    /// <summary>4 KiB random reads at queue depth 64 (target: at least 1,000,000 per second, 0 B allocated per request).</summary>
    [Benchmark(OperationsPerInvoke = RandomBatch)]
    public void RandomRead4K_QD64() => _random.Drive(RandomBatch, 4096, (64UL << 20) / 512, ref _rng);

    /// <summary>1 MiB sequential-sized reads at random aligned places, queue depth 16.</summary>
    [Benchmark(OperationsPerInvoke = SequentialBatch)]
    public void SequentialRead1M() => _sequential.Drive(SequentialBatch, 1 << 20, (256UL << 20) / 512, ref _rng);

    /// <summary>The baseline for the 1 MiB target: a plain copy of the same number of bytes between host buffers.</summary>
    [Benchmark(OperationsPerInvoke = SequentialBatch)]
    public void MemoryCopy1M()
    {
        for (int i = 0; i < SequentialBatch; i++)
        {
            int from = (i & 255) << 20;
            _source.AsSpan(from, 1 << 20).CopyTo(_target.AsSpan((i & 15) << 20, 1 << 20));
        }
    }
}
