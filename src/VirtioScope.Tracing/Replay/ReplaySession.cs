using System.Diagnostics;
using VirtioScope.Block;
using VirtioScope.Memory;
using VirtioScope.Tracing.Format;
using VirtioScope.Tracing.Recording;
using VirtioScope.Virtio;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Tracing.Replay;

/// <summary>
/// A replay in progress that a tool can advance step by step and inspect between steps: the rebuilt sandbox
/// (<see cref="Memory"/>), the fresh <see cref="Transport"/> and device, and the verifier's position. A debugger
/// steps forward with <see cref="RunTo"/> and back by starting a new session and running it to an earlier event.
/// </summary>
public sealed class ReplaySession : IDisposable
{
    private readonly ExpectedStream _expected;
    private readonly VerifyingSink _sink;
    private readonly RecordingBackend _recording;
    private readonly TraceRecorder _recorder;
    private readonly ReplayOptions _options;
    private readonly Stopwatch _stopwatch = Stopwatch.StartNew();

    /// <summary>Rebuilds the sandbox and device described by the trace over <paramref name="backend"/> (the caller's).</summary>
    /// <exception cref="InvalidOperationException">The trace is register-level, or the backend's size differs.</exception>
    /// <exception cref="InvalidDataException">The header does not describe a sandbox.</exception>
    public ReplaySession(TraceReader reader, IBlockBackend backend, ReplayOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(backend);
        _options = options ?? new ReplayOptions();
        TraceHeader h = reader.Header;
        if (!h.Replayable || h.Device is null)
        {
            throw new InvalidOperationException($"trace from {h.Source} is register-level: it holds no guest memory or backend data, so it can be shown, stepped and linted but not replayed");
        }
        if (h.Memory.Count == 0)
        {
            throw new InvalidDataException("trace header: field 'memory' lists no regions");
        }
        if (backend.Size != h.Backend.VirtualSize)
        {
            throw new InvalidOperationException($"backend is {backend.Size} bytes but the trace was recorded over {h.Backend.VirtualSize} bytes");
        }
        Memory = new GuestMemory(h.Memory.Select(r => GuestRegion.Allocate(r.Base, r.Size)));
        _expected = new ExpectedStream(reader);
        _sink = new VerifyingSink(_expected, _options.Verify, _options.ContextEvents);
        _recording = new RecordingBackend(new BorrowedBackend(backend), _sink);
        BlockDeviceOptions deviceOptions = _options.DeviceOptions ?? h.Device;
        Device = _options.DeviceFactory is { } factory ? factory(_recording, deviceOptions) : new BlockDevice(_recording, deviceOptions);
        Transport = new MmioTransport(Device, Memory.CreateView(), new MmioTransportOptions
        {
            Version = (MmioVersion)h.MmioVersion,
            BaseAddress = h.TransportBase,
            WindowSize = h.WindowSize,
            VendorId = h.VendorId,
        });
        _recorder = new TraceRecorder(_sink, Transport, Device as BlockDevice) { Feeder = _sink.Feed };
        Transport.InterruptRaised = _recorder.InterruptHandler(null);
    }

    /// <summary>The rebuilt guest memory.</summary>
    public GuestMemory Memory { get; }

    /// <summary>The fresh transport (registers, queues, status).</summary>
    public MmioTransport Transport { get; }

    /// <summary>The fresh device.</summary>
    public IVirtioDevice Device { get; }

    /// <summary>Number of the next recorded event not yet replayed.</summary>
    public long NextEvent => Math.Min(_sink.Next, _expected.Count);

    /// <summary>Register accesses driven so far.</summary>
    public long Accesses { get; private set; }

    /// <summary>The first divergence so far (verify mode).</summary>
    public Divergence? Divergence => _sink.Divergence;

    /// <summary>Whether every event has been replayed or verification stopped.</summary>
    public bool Finished => _sink.Next >= _expected.Count || _sink.Stopped;

    /// <summary>
    /// Drives recorded register accesses until every event up to <paramref name="lastEvent"/> has been replayed (the
    /// access that event belongs to is driven whole), the trace ends, or verification finds a divergence.
    /// </summary>
    public void RunTo(long lastEvent)
    {
        long limit = Math.Min(lastEvent + 1, _expected.Count);
        while (_sink.Next < limit && !_sink.Stopped)
        {
            long m = _expected.NextAccess(_sink.Next);
            if (m >= limit)
            {
                if (m >= _expected.Count && _options.Verify)
                {
                    // No register access is left, so the device events still expected will never come.
                    _sink.Missing(_sink.Next, _expected.Count);
                }
                break;
            }
            ref readonly TraceEvent access = ref _expected[m];
            if (!_options.Verify && access.Kind == RecordKind.MmioWrite)
            {
                _sink.Next = m;
            }
            if (access.Kind == RecordKind.MmioWrite)
            {
                _recorder.Write(access.Address, (int)access.Length, (uint)access.Value);
            }
            else
            {
                _recorder.Read(access.Address, (int)access.Length);
            }
            Accesses++;
            if (!_options.Verify && _sink.Next <= m)
            {
                _sink.Next = m + 1;
            }
        }
    }

    /// <summary>What the replay has done so far.</summary>
    public ReplayResult Result() => new()
    {
        Events = NextEvent,
        Accesses = Accesses,
        Matched = _sink.Matched,
        Mismatches = _sink.Mismatches,
        Divergence = _sink.Divergence,
        Elapsed = _stopwatch.Elapsed,
    };

    /// <inheritdoc />
    public void Dispose()
    {
        _recorder.Dispose();
        _recording.Dispose();
        Memory.Dispose();
    }

    /// <summary>Passes everything to a backend without disposing it (the caller owns the backend).</summary>
    private sealed class BorrowedBackend(IBlockBackend inner) : IBlockBackend
    {
        public long Size => inner.Size;

        public bool IsReadOnly => inner.IsReadOnly;

        public BlockCapabilities Capabilities => inner.Capabilities;

        public void Read(long offset, Span<byte> destination) => inner.Read(offset, destination);

        public void Write(long offset, ReadOnlySpan<byte> source) => inner.Write(offset, source);

        public void Flush() => inner.Flush();

        public void Discard(long offset, long length) => inner.Discard(offset, length);

        public void WriteZeroes(long offset, long length, ZeroingMode mode) => inner.WriteZeroes(offset, length, mode);

        public void Dispose()
        {
        }
    }
}
