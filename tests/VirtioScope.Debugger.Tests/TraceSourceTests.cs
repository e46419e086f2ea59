using VirtioScope.Block;
using VirtioScope.Debugger.Sources;
using VirtioScope.Guest.Workloads;
using VirtioScope.Tracing.Format;
using VirtioScope.Tracing.Recording;
using VirtioScope.Tracing.Replay;

namespace VirtioScope.Debugger.Tests;

/// <summary>A recording as the session's guest, and sessions that record themselves.</summary>
public sealed class TraceSourceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vscope-dbg-trace-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Record(string workload, bool packed)
    {
        string path = Path.Combine(_dir, $"{workload}-{packed}.vstrace");
        var options = new RecordedRunOptions
        {
            Guest = new Guest.GuestDriverOptions { UsePacked = packed, QueueDepth = 8 },
            Workload = new WorkloadOptions { Name = workload, Requests = 300, QueueDepth = 8, Seed = 11 },
            Backend = new BackendInfo { Kind = "memory", VirtualSize = 1 << 20 },
        };
        using var backend = new MemoryBackend(1 << 20);
        using FileStream file = File.Create(path);
        RecordedRun.Run(backend, options, file);
        return path;
    }

    private static string Fields(TraceEvent e) =>
        $"{e.Number} {e.Kind} {e.Address} {e.Length} {e.Value} {e.Hash} {e.Code} {e.Queue} {e.Id} {e.Segments} {e.Text} {Convert.ToHexString(e.Data.Span)}";

    [Theory]
    [InlineData("randrw", false)]
    [InlineData("randwrite", true)]
    public void Stepping_back_through_a_recording_lands_on_byte_identical_state(string workload, bool packed)
    {
        using TraceReader reader = TraceReader.Open(Record(workload, packed));
        using DebugSession s = DebugSession.Open(TraceGuestSource.OptionsFor(reader.Header, null), () => new TraceGuestSource(reader, "t"));
        s.Next(40);
        string atRequest = s.StateFingerprint();
        long events = s.EventCount;
        s.Step(25);
        string atStep = s.StateFingerprint();
        long position = s.Position;
        s.Continue();
        Assert.Equal(MachineState.Finished, s.State);
        Assert.Equal(300, s.Completions);
        Assert.Contains($"event {reader.EventCount} of {reader.EventCount}; identical", s.SourceDescription, StringComparison.Ordinal);
        s.GoTo(position, long.MaxValue);
        Assert.Equal(atStep, s.StateFingerprint());
        s.GoTo(long.MaxValue, events);
        Assert.Equal(atRequest, s.StateFingerprint());
        Assert.Throws<CommandException>(() => s.Compose(new ComposedRequest(BlkRequestType.Flush, 0, 0, 0, 0)));
    }

    [Fact]
    public void A_recorded_session_replays_identically_and_a_second_recording_of_its_trace_equals_it()
    {
        string first = Path.Combine(_dir, "session.vstrace");
        using (DebugSession s = DebugSession.Open(Sessions.Small("randrw") with { RecordPath = first }))
        {
            var c = new CommandInterpreter(s);
            Sessions.Run(c, "next 25", "compose write 8 8 0x33", "next 10", "back 15", "compose get-id 0 0", "next 40");
        }
        using TraceReader reader = TraceReader.Open(first);
        Assert.True(reader.IsComplete);
        using (var backend = new MemoryBackend(1 << 20))
        {
            ReplayResult r = TraceReplayer.Replay(reader, backend, new ReplayOptions { Verify = true });
            Assert.Null(r.Divergence);
            Assert.Equal(reader.EventCount, r.Events);
        }
        Assert.Contains(reader.Events(), e => e.Kind == RecordKind.Request && e.Code == (byte)BlkRequestType.GetId);

        // The trace as the debugger's guest, recorded again: the same events, field for field.
        string second = Path.Combine(_dir, "again.vstrace");
        using (DebugSession s = DebugSession.Open(TraceGuestSource.OptionsFor(reader.Header, null) with { RecordPath = second }, () => new TraceGuestSource(reader, "session")))
        {
            s.Continue();
            Assert.Equal(MachineState.Finished, s.State);
        }
        using TraceReader again = TraceReader.Open(second);
        Assert.Equal(reader.EventCount, again.EventCount);
        Assert.Equal(reader.Events().Select(Fields), again.Events().Select(Fields));
    }
}
