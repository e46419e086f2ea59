using VirtioScope.Tracing.Format;
using VirtioScope.Tracing.Recording;
using VirtioScope.Virtio;

namespace VirtioScope.Tracing.Replay;

/// <summary>
/// The guest side of a recording, able to drive any register window (a debugger's gated one): the recorded
/// register accesses in order through <see cref="Run"/>, the recorded guest memory put in place as the device reads
/// it (<see cref="Feeder"/>), and a comparison of what the device produces with the recording (<see cref="Sink"/>,
/// to be given to a <see cref="TraceRecorder"/> on the device's transport). Mismatches are counted and the first is
/// kept, but driving goes on: this is replay without <c>--verify</c>'s stop.
/// </summary>
public sealed class RecordedGuest
{
    private readonly ExpectedStream _expected;
    private readonly VerifyingSink _sink;

    /// <summary>Prepares to drive <paramref name="reader"/>'s recording (which must be replayable).</summary>
    /// <exception cref="InvalidOperationException">The trace is register-level (imported) and holds no guest memory.</exception>
    public RecordedGuest(TraceReader reader, int contextEvents = 6)
    {
        ArgumentNullException.ThrowIfNull(reader);
        if (!reader.Header.Replayable || reader.Header.Device is null || reader.Header.Memory.Count == 0)
        {
            throw new InvalidOperationException($"trace from {reader.Header.Source} is register-level: it holds no guest memory or backend data, so it cannot drive a device (use trace show or trace lint)");
        }
        _expected = new ExpectedStream(reader);
        _sink = new VerifyingSink(_expected, verify: false, contextEvents);
    }

    /// <summary>Where a recorder on the device's transport puts what the device produces, for comparison.</summary>
    public ITraceSink Sink => _sink;

    /// <summary>Puts recorded guest bytes in place before the device reads them (a recorder's <see cref="TraceRecorder.Feeder"/>).</summary>
    public GuestReadFeeder Feeder => _sink.Feed;

    /// <summary>Events in the recording.</summary>
    public long EventCount => _expected.Count;

    /// <summary>Number of the next recorded event the device has not reproduced yet.</summary>
    public long NextEvent => Math.Min(_sink.Next, _expected.Count);

    /// <summary>Register accesses driven so far.</summary>
    public long Accesses { get; private set; }

    /// <summary>The first difference between the device and the recording, if any.</summary>
    public Divergence? Divergence => _sink.Divergence;

    /// <summary>Events that differed.</summary>
    public long Mismatches => _sink.Mismatches;

    /// <summary>Drives every recorded register access, in order, through <paramref name="mmio"/>.</summary>
    public void Run(IMmioDevice mmio)
    {
        ArgumentNullException.ThrowIfNull(mmio);
        while (true)
        {
            long m = _expected.NextAccess(_sink.Next);
            if (m >= _expected.Count)
            {
                return;
            }
            TraceEvent access = _expected[m];
            // A write is recorded before it reaches the device, so the comparison starts at the access itself.
            if (access.Kind == RecordKind.MmioWrite)
            {
                _sink.Next = m;
                mmio.Write(access.Address, (int)access.Length, (uint)access.Value);
            }
            else
            {
                mmio.Read(access.Address, (int)access.Length);
            }
            Accesses++;
            if (_sink.Next <= m)
            {
                _sink.Next = m + 1;
            }
        }
    }
}
