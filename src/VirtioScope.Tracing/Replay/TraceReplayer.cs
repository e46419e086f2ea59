using System.Diagnostics;
using VirtioScope.Block;
using VirtioScope.Memory;
using VirtioScope.Tracing.Format;
using VirtioScope.Tracing.Recording;
using VirtioScope.Virtio;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Tracing.Replay;

/// <summary>
/// Re-executes a recording against a fresh device: it rebuilds the sandbox from the header, drives the recorded
/// register accesses in order, and supplies the guest memory the device reads from the recording. Everything the
/// new device produces goes through the same <see cref="TraceRecorder"/> and <see cref="RecordingBackend"/> as when
/// recording, into a verifier that compares it event by event with the recording.
/// </summary>
public static class TraceReplayer
{
    /// <summary>Replays <paramref name="reader"/>'s trace against <paramref name="backend"/> (which the caller owns).</summary>
    /// <exception cref="InvalidOperationException">The trace is register-level (imported) and holds no guest memory.</exception>
    /// <exception cref="InvalidDataException">The header does not describe a device that can be built.</exception>
    public static ReplayResult Replay(TraceReader reader, IBlockBackend backend, ReplayOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(backend);
        options ??= new ReplayOptions();
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
        var stopwatch = Stopwatch.StartNew();
        using var memory = new GuestMemory(h.Memory.Select(r => GuestRegion.Allocate(r.Base, r.Size)));
        var expected = new ExpectedStream(reader);
        var sink = new VerifyingSink(expected, options.Verify, options.ContextEvents);
        using var recording = new RecordingBackend(new BorrowedBackend(backend), sink);
        BlockDeviceOptions deviceOptions = options.DeviceOptions ?? h.Device;
        IVirtioDevice device = options.DeviceFactory is { } factory ? factory(recording, deviceOptions) : new BlockDevice(recording, deviceOptions);
        var transport = new MmioTransport(device, memory.CreateView(), new MmioTransportOptions
        {
            Version = (MmioVersion)h.MmioVersion,
            BaseAddress = h.TransportBase,
            WindowSize = h.WindowSize,
            VendorId = h.VendorId,
        });
        using var recorder = new TraceRecorder(sink, transport) { Feeder = sink.Feed };
        transport.InterruptRaised = recorder.InterruptHandler(null);
        long accesses = 0;
        long count = reader.EventCount;
        long limit = options.Until is { } u ? Math.Min(u + 1, count) : count;
        while (sink.Next < limit && !sink.Stopped)
        {
            long m = expected.NextAccess(sink.Next);
            if (m >= limit)
            {
                break;
            }
            ref readonly TraceEvent access = ref expected[m];
            if (!options.Verify && access.Kind == RecordKind.MmioWrite)
            {
                sink.Next = m;
            }
            if (access.Kind == RecordKind.MmioWrite)
            {
                recorder.Write(access.Address, (int)access.Length, (uint)access.Value);
            }
            else
            {
                recorder.Read(access.Address, (int)access.Length);
            }
            accesses++;
            if (!options.Verify && sink.Next <= m)
            {
                sink.Next = m + 1;
            }
        }
        if (options.Verify && !sink.Stopped && sink.Next < limit && options.Until is null)
        {
            sink.Missing(sink.Next, count);
        }
        return new ReplayResult
        {
            Events = Math.Min(sink.Next, count),
            Accesses = accesses,
            Matched = sink.Matched,
            Mismatches = sink.Mismatches,
            Divergence = sink.Divergence,
            Elapsed = stopwatch.Elapsed,
        };
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
