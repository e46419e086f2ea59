using VirtioScope.Debugger;

namespace VirtioScope.Debugger.Tests;

public class SteppingTests
{
    [Fact]
    public void Opens_paused_before_the_first_register_access()
    {
        using DebugSession s = Sessions.Open();
        Assert.Equal(MachineState.Paused, s.State);
        Assert.Equal(0, s.Position);
        Assert.Equal("0 (reset)", s.Snapshot().Status);
        Assert.Empty(s.Events(100));
        Assert.Contains("first register access", s.StopReason);
    }

    [Fact]
    public void Step_executes_one_access_at_a_time_in_the_probe_order()
    {
        using DebugSession s = Sessions.Open();
        s.Step();
        Assert.Equal(1, s.Position);
        s.Step(2);
        Assert.Equal(3, s.Position);
        string[] texts = s.Events(10, "mmio").Select(e => e.Text).ToArray();
        Assert.Equal(3, texts.Length);
        Assert.StartsWith("read  MagicValue", texts[0]);
        Assert.Contains("0x74726976", texts[0]);
        Assert.StartsWith("read  Version", texts[1]);
        Assert.StartsWith("read  DeviceID", texts[2]);
    }

    [Fact]
    public void Stepping_walks_the_status_through_acknowledge_driver_and_driver_ok()
    {
        using DebugSession s = Sessions.Open();
        var seen = new List<string>();
        for (int i = 0; i < 200 && !seen.Contains("ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK"); i++)
        {
            s.Step();
            string status = s.Snapshot().Status;
            if (seen.Count == 0 || seen[^1] != status)
            {
                seen.Add(status);
            }
        }
        Assert.Equal(["0 (reset)", "ACKNOWLEDGE", "ACKNOWLEDGE|DRIVER", "ACKNOWLEDGE|DRIVER|FEATURES_OK", "ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK"], seen);
    }

    [Fact]
    public void Changed_registers_are_named_after_a_step()
    {
        using DebugSession s = Sessions.Open();
        var c = new CommandInterpreter(s);
        Sessions.Run(c, "break mmio 0x70 write =1", "continue");
        Assert.DoesNotContain("Status", s.Snapshot().Changed);
        Sessions.Run(c, "step");
        Assert.Contains("Status", s.Snapshot().Changed);
        Assert.Equal("ACKNOWLEDGE", s.Snapshot().Status);
    }

    [Fact]
    public void Next_runs_until_one_more_request_completes()
    {
        using DebugSession s = Sessions.Open();
        s.Next();
        Assert.Equal(1, s.Completions);
        Assert.Equal("request completed", s.StopReason);
        s.Next(3);
        Assert.Equal(4, s.Completions);
        RequestView? r = s.Request();
        Assert.NotNull(r);
        Assert.Equal("in", r.Type);
        Assert.Equal("OK", r.Status);
        Assert.True(r.Descriptors.Count >= 1);
    }

    [Fact]
    public void Continue_without_breakpoints_runs_the_workload_to_its_end()
    {
        using DebugSession s = DebugSession.Open(Sessions.Small() with { Requests = 200 });
        s.Continue();
        Assert.Equal(MachineState.Finished, s.State);
        Assert.Equal(200, s.Completions);
        CommandResult r = new CommandInterpreter(s).Execute("step");
        Assert.False(r.Ok);
        Assert.Contains("ended", r.Error);
    }

    [Fact]
    public async Task Pause_from_another_thread_stops_a_running_session()
    {
        using DebugSession s = DebugSession.Open(Sessions.Small() with { Requests = 10_000_000 });
        var run = Task.Run(() => s.Continue());
        SpinWait.SpinUntil(() => s.Completions > 100, TimeSpan.FromSeconds(20));
        s.Pause();
        await run.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(MachineState.Paused, s.State);
        Assert.Equal("paused", s.StopReason);
        QueueSnapshot q = s.Snapshot().Queues[0];
        Assert.True(q.AvailIdx > 0);
    }

    [Fact]
    public void Packed_queues_show_the_descriptor_ring_and_wrap_counters()
    {
        using DebugSession s = DebugSession.Open(Sessions.Small() with { Packed = true });
        s.Next(40);
        QueueSnapshot q = s.Snapshot().Queues[0];
        Assert.Equal("packed", q.Format);
        Assert.NotNull(q.AvailWrapCounter);
        Assert.Equal(q.Size, q.PackedRing.Count);
        Assert.Contains(q.PackedRing, e => e.Flags.Contains("AVAIL", StringComparison.Ordinal));
    }

    [Fact]
    public void Split_queues_show_indices_and_rings()
    {
        using DebugSession s = Sessions.Open();
        s.Next(10);
        QueueSnapshot q = s.Snapshot().Queues[0];
        Assert.Equal("split", q.Format);
        Assert.True(q.AvailIdx >= 10);
        Assert.Equal((ushort)10, q.UsedIdx);
        Assert.True(s.InsideAccess);
        Assert.Equal((ushort)10, q.LastSeenAvail);
        Assert.Equal(q.AvailIdx - q.UsedIdx, q.InFlight);
        Assert.NotNull(q.UsedEvent);
        Assert.Equal(q.Size, q.AvailRing.Count);
    }
}
