using Serilog;
using VirtioScope.Block;
using VirtioScope.Guest;
using VirtioScope.Guest.Workloads;
using VirtioScope.Cli.Trace;
using VirtioScope.Memory;
using VirtioScope.Tracing.Recording;
using VirtioScope.Virtio;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Cli.Run;

/// <summary>Builds guest memory, backend, device, transport and guest for one <c>run</c>, and drives the workload.</summary>
internal static class RunSession
{
    public static int Execute(RunSettings s, ILogger log)
    {
        IBlockBackend backend;
        try
        {
            backend = OpenBackend(s);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidDataException)
        {
            Console.Error.WriteLine($"virtioscope: {(s.Image ?? "memory disk")}: {e.Message}");
            return ExitCodes.Usage;
        }
        using (backend)
        {
            return Drive(s, backend, log);
        }
    }

    internal static IBlockBackend OpenBackend(RunSettings s)
    {
        if (s.Image is null)
        {
            return new MemoryBackend(s.MemoryBytes ?? RunSettings.DefaultMemoryDisk, s.ReadOnly);
        }
        if (!File.Exists(s.Image))
        {
            throw new IOException("no such file");
        }
        return BackendFactory.Open(s.Image, s.ReadOnly);
    }

    private static int Drive(RunSettings s, IBlockBackend backend, ILogger log)
    {
        var deviceOptions = new BlockDeviceOptions { NumQueues = s.Queues };
        // Room for every queue's rings and request buffers, plus slack for the hostile workload's tables.
        long buffers = (long)s.Queues * s.QueueDepth * (s.BlockSize + 4096);
        ulong memorySize = (ulong)Math.Max(64L << 20, (buffers + (32L << 20) + 0xfffff) & ~0xfffffL);
        using GuestMemory memory = GuestMemory.Create(GuestMemory.DefaultBase, memorySize);
        RecordingBackend? recordingBackend = s.Record is null ? null : new RecordingBackend(backend);
        var device = new BlockDevice(recordingBackend ?? backend, deviceOptions);
        var transport = new MmioTransport(device, memory.CreateView(),
            new MmioTransportOptions { Version = s.Legacy ? MmioVersion.Legacy : MmioVersion.Modern });
        transport.Events.SubscribeFaults(f =>
        {
            // The hostile workload provokes faults on purpose: they are detail there, news anywhere else.
            if (s.IsHostile)
            {
                log.Debug("device fault: {Fault}", f.Message);
            }
            else
            {
                log.Warning("device fault: {Fault}", f.Message);
            }
        });
        ulong mask = ulong.MaxValue;
        var guestOptions = new GuestDriverOptions
        {
            QueueCount = s.Queues,
            QueueSize = Math.Max(deviceOptions.MaxQueueSize, (int)Math.Min(32768, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)s.QueueDepth))),
            QueueDepth = s.QueueDepth,
            UsePacked = s.Packed,
            UseEventIdx = s.EventIdx,
            UseIndirect = s.Indirect,
            FeatureMask = mask,
            MaxRequestBytes = Math.Max(s.BlockSize, 64 * 1024),
        };
        try
        {
            guestOptions.Validate();
            using RunRecording? trace = s.Record is null ? null : RunRecording.Start(s.Record, s.RecordFull, s, device, deviceOptions, transport, memory, recordingBackend!);
            using var guest = new VirtioBlkGuest(trace?.Recorder ?? (IMmioDevice)transport, memory, guestOptions);
            transport.InterruptRaised = trace is null ? guest.OnInterrupt : trace.Recorder.InterruptHandler(guest.OnInterrupt);
            guest.Events = transport.Events;
            guest.Initialize();
            log.Information("device up: features 0x{Features:x}, capacity {Capacity} sectors, {Transport} transport",
                guest.NegotiatedFeatures, guest.Config.Capacity, s.Legacy ? "legacy" : "v2");
            var workload = new WorkloadOptions
            {
                Name = s.Workload,
                Requests = s.Requests,
                QueueDepth = s.QueueDepth,
                BlockSize = s.BlockSize,
                RwMixPercent = s.RwMixPercent,
                FlushEvery = s.FlushEvery,
                Seed = s.Seed,
                Verify = s.Verify,
                AssumeZeroedMedium = s.Image is null,
            };
            WorkloadResult result = WorkloadRunner.Run(guest, workload);
            var summary = RunSummary.From(s, result, device.Statistics, transport.Statistics);
            summary.Write(Console.Out, s.Json);
            foreach (string m in result.VerifyFailureMessages.Take(10))
            {
                log.Error("verify: {Failure}", m);
            }
            return summary.ExitCode;
        }
        catch (Exception e) when (e is GuestDriverException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"virtioscope: {e.Message}");
            return ExitCodes.Usage;
        }
    }
}
