using VirtioScope.Block;
using VirtioScope.Cli.Run;
using VirtioScope.Images;
using VirtioScope.Memory;
using VirtioScope.Tracing.Format;
using VirtioScope.Tracing.Recording;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Cli.Trace;

/// <summary>The recording side of <c>run --record</c>: a trace writer and the recorder between guest and transport.</summary>
internal sealed class RunRecording : IDisposable
{
    private readonly TraceWriter _writer;

    private RunRecording(TraceWriter writer, TraceRecorder recorder)
    {
        _writer = writer;
        Recorder = recorder;
    }

    /// <summary>What the guest talks to instead of the transport.</summary>
    public TraceRecorder Recorder { get; }

    /// <summary>Starts writing <paramref name="path"/>; <paramref name="backend"/> is the recording wrapper the device uses.</summary>
    public static RunRecording Start(string path, bool full, RunSettings s, BlockDevice blockDevice, BlockDeviceOptions device, MmioTransport transport,
        GuestMemory memory, RecordingBackend backend)
    {
        var info = new BackendInfo
        {
            Kind = s.Image is null ? "memory" : "image",
            Format = s.Image is null ? "memory" : DetectFormat(s.Image),
            Path = s.Image is null ? null : Path.GetFullPath(s.Image),
            VirtualSize = backend.Size,
            ReadOnly = backend.IsReadOnly,
        };
        string description = $"run --workload {s.Workload} --requests {s.Requests} --queue-depth {s.QueueDepth} --block-size {s.BlockSize} --seed {s.Seed}"
            + (s.Packed ? " --packed" : "") + (s.Legacy ? " --legacy-mmio" : "");
        var writer = new TraceWriter(path, TraceHeaders.Describe(device, transport, memory, info, full, description));
        backend.Sink = writer;
        return new RunRecording(writer, new TraceRecorder(writer, transport, blockDevice));
    }

    private static string DetectFormat(string path)
    {
        using FileStream f = File.OpenRead(path);
        Span<byte> head = stackalloc byte[FormatDetector.ProbeLength];
        int n = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        return FormatDetector.Detect(head[..n]).ToString().ToLowerInvariant();
    }

    /// <summary>Events written.</summary>
    public long Events => _writer.EventCount;

    /// <summary>Bytes written.</summary>
    public long Bytes => _writer.BytesWritten;

    /// <summary>Stops recording and completes the file.</summary>
    public void Dispose()
    {
        Recorder.Dispose();
        _writer.Dispose();
    }
}
