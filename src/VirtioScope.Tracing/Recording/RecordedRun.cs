using VirtioScope.Block;
using VirtioScope.Guest;
using VirtioScope.Guest.Workloads;
using VirtioScope.Memory;
using VirtioScope.Tracing.Format;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Tracing.Recording;

/// <summary>What to run while recording (tests, benchmarks and tools that record without the CLI).</summary>
public sealed record RecordedRunOptions
{
    /// <summary>Device configuration.</summary>
    public BlockDeviceOptions Device { get; init; } = new();

    /// <summary>Register layout.</summary>
    public MmioVersion Version { get; init; } = MmioVersion.Modern;

    /// <summary>Guest driver configuration.</summary>
    public GuestDriverOptions Guest { get; init; } = new();

    /// <summary>Workload.</summary>
    public WorkloadOptions Workload { get; init; } = new();

    /// <summary>Sandbox size.</summary>
    public ulong MemorySize { get; init; } = GuestMemory.DefaultSize;

    /// <summary>Backend identity for the header.</summary>
    public BackendInfo Backend { get; init; } = new();

    /// <summary>Whether device writes carry their bytes.</summary>
    public bool FullData { get; init; }

    /// <summary>Decompressed bytes per chunk.</summary>
    public int ChunkTarget { get; init; } = TraceLayout.ChunkTarget;
}

/// <summary>Runs a workload with the guest driver against a block device while recording everything to a trace.</summary>
public static class RecordedRun
{
    /// <summary>Runs without recording (the baseline recording is measured against).</summary>
    public static WorkloadResult RunPlain(IBlockBackend backend, RecordedRunOptions options)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(options);
        using GuestMemory memory = GuestMemory.Create(GuestMemory.DefaultBase, options.MemorySize);
        var device = new BlockDevice(backend, options.Device);
        var transport = new MmioTransport(device, memory.CreateView(), new MmioTransportOptions { Version = options.Version });
        using var guest = new VirtioBlkGuest(transport, memory, options.Guest);
        transport.InterruptRaised = guest.OnInterrupt;
        return WorkloadRunner.Run(guest, options.Workload);
    }

    /// <summary>Runs and records into any sink (a verifier, or a null sink to measure the recorder alone).</summary>
    public static WorkloadResult Run(IBlockBackend backend, RecordedRunOptions options, ITraceSink sink)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(sink);
        using GuestMemory memory = GuestMemory.Create(GuestMemory.DefaultBase, options.MemorySize);
        var device = new BlockDevice(new RecordingBackend(backend, sink), options.Device);
        var transport = new MmioTransport(device, memory.CreateView(), new MmioTransportOptions { Version = options.Version });
        using var recorder = new TraceRecorder(sink, transport, device);
        using var guest = new VirtioBlkGuest(recorder, memory, options.Guest);
        transport.InterruptRaised = recorder.InterruptHandler(guest.OnInterrupt);
        return WorkloadRunner.Run(guest, options.Workload);
    }

    /// <summary>Runs and records to <paramref name="output"/>; the backend stays the caller's. Returns the workload's result.</summary>
    public static WorkloadResult Run(IBlockBackend backend, RecordedRunOptions options, Stream output)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        using GuestMemory memory = GuestMemory.Create(GuestMemory.DefaultBase, options.MemorySize);
        TraceWriter? writer = null;
        try
        {
            var recordingBackend = new RecordingBackend(backend);
            var device = new BlockDevice(recordingBackend, options.Device);
            var transport = new MmioTransport(device, memory.CreateView(), new MmioTransportOptions { Version = options.Version });
            writer = new TraceWriter(output, TraceHeaders.Describe(options.Device, transport, memory, options.Backend, options.FullData, options.Workload.Name), options.ChunkTarget);
            recordingBackend.Sink = writer;
            using var recorder = new TraceRecorder(writer, transport, device);
            using var guest = new VirtioBlkGuest(recorder, memory, options.Guest);
            transport.InterruptRaised = recorder.InterruptHandler(guest.OnInterrupt);
            return WorkloadRunner.Run(guest, options.Workload);
        }
        finally
        {
            writer?.Dispose();
        }
    }
}
