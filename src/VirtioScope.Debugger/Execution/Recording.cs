using System.Globalization;
using VirtioScope.Block;
using VirtioScope.Debugger.Sources;
using VirtioScope.Images;
using VirtioScope.Memory;
using VirtioScope.Tracing.Format;
using VirtioScope.Tracing.Recording;
using VirtioScope.Virtio;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Debugger.Execution;

/// <summary>
/// What watches one execution's device: a trace file being written (<c>debug --record</c>), the comparison of a
/// trace source, or both, fed by one <see cref="TraceRecorder"/> between the gate and the transport and one
/// <see cref="RecordingBackend"/> under the device. Each execution records from its start, so after stepping back the
/// file is rewritten and always holds the session's current history.
/// </summary>
internal sealed class Recording : IDisposable
{
    private readonly SessionOptions _options;
    private readonly DeviceSetup? _setup;
    private readonly IDiskImage? _image;
    private TraceWriter? _writer;
    private TraceRecorder? _recorder;

    private Recording(SessionOptions options, DeviceSetup? setup, IBlockBackend backend, IDiskImage? image)
    {
        _options = options;
        _setup = setup;
        _image = image;
        Backend = new RecordingBackend(backend);
    }

    /// <summary>The backend the device uses (it passes everything to the session's backend).</summary>
    public RecordingBackend Backend { get; }

    /// <summary>A recording when the options ask for a trace file or the source wants to see the device's work; else null.</summary>
    public static Recording? Start(SessionOptions options, DeviceSetup? setup, IBlockBackend backend, IDiskImage? image) =>
        options.RecordPath is null && setup?.Observer is null ? null : new Recording(options, setup, backend, image);

    /// <summary>Puts the recorder in front of <paramref name="transport"/>; returns what the gate drives instead of it.</summary>
    public IMmioDevice Attach(MmioTransport transport, BlockDevice blockDevice, BlockDeviceOptions device, GuestMemory memory, Action interrupt)
    {
        ITraceSink? sink = _setup?.Observer;
        if (_options.RecordPath is { } path)
        {
            var info = new BackendInfo
            {
                Kind = _options.ImagePath is null ? "memory" : "image",
                Format = _image is null ? "memory" : _image.Format.ToString().ToLowerInvariant(),
                Path = _options.ImagePath is null ? null : Path.GetFullPath(_options.ImagePath),
                VirtualSize = Backend.Size,
                ReadOnly = Backend.IsReadOnly,
            };
            _writer = new TraceWriter(path, TraceHeaders.Describe(device, transport, memory, info, _options.RecordFullData, Describe(_options)));
            sink = sink is null ? _writer : new TeeSink(_writer, sink);
        }
        Backend.Sink = sink;
        _recorder = new TraceRecorder(sink!, transport, blockDevice) { Feeder = _setup?.Feeder };
        transport.InterruptRaised = _recorder.InterruptHandler(interrupt);
        return _recorder;
    }

    private static string Describe(SessionOptions o) => string.Create(CultureInfo.InvariantCulture,
        $"debug --workload {o.Workload} --requests {o.Requests} --queue-depth {o.QueueDepth} --block-size {o.BlockSize} --seed {o.Seed}")
        + (o.Packed ? " --packed" : "") + (o.Legacy ? " --legacy-mmio" : "");

    /// <summary>Records the device's pending memory writes and completes the trace file.</summary>
    public void Dispose()
    {
        _recorder?.Dispose();
        _writer?.Dispose();
    }
}
