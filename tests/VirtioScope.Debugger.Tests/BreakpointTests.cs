using VirtioScope.Debugger;

namespace VirtioScope.Debugger.Tests;

public class BreakpointTests
{
    [Fact]
    public void Mmio_write_breakpoint_stops_before_the_write_with_that_value()
    {
        using DebugSession s = Sessions.Open();
        var c = new CommandInterpreter(s);
        Sessions.Run(c, "break mmio 0x070 write =3");
        CommandResult r = Sessions.Run(c, "continue");
        var move = Assert.IsType<MoveResult>(r.Data);
        Assert.Equal(1, move.Breakpoint);
        Assert.Equal("ACKNOWLEDGE", s.Snapshot().Status);
        Sessions.Run(c, "step");
        Assert.Equal("ACKNOWLEDGE|DRIVER", s.Snapshot().Status);
    }

    [Fact]
    public void Mmio_read_breakpoint_with_value_stops_after_the_read()
    {
        using DebugSession s = Sessions.Open();
        var c = new CommandInterpreter(s);
        Sessions.Run(c, "break mmio 0x4 read =2", "continue");
        Assert.Equal(2, s.Position);
        Assert.StartsWith("read  Version", s.Events(1, "mmio")[0].Text);
    }

    [Fact]
    public void Mmio_read_breakpoint_stops_each_time()
    {
        using DebugSession s = Sessions.Open();
        var c = new CommandInterpreter(s);
        Sessions.Run(c, "break mmio 0x70 read", "continue");
        long first = s.Position;
        Sessions.Run(c, "continue");
        Assert.True(s.Position > first);
        Assert.Equal(1, s.StoppedAtBreakpoint);
    }

    [Fact]
    public void Status_breakpoint_stops_after_each_status_change()
    {
        using DebugSession s = Sessions.Open();
        var c = new CommandInterpreter(s);
        Sessions.Run(c, "break status");
        var statuses = new List<string>();
        for (int i = 0; i < 4; i++)
        {
            Sessions.Run(c, "continue");
            statuses.Add(s.Snapshot().Status);
        }
        // The reset at probe time finds the status already 0, which is no change.
        Assert.Equal(["ACKNOWLEDGE", "ACKNOWLEDGE|DRIVER", "ACKNOWLEDGE|DRIVER|FEATURES_OK", "ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK"], statuses);
    }

    [Fact]
    public void Request_type_breakpoint_stops_at_the_first_write()
    {
        using DebugSession s = DebugSession.Open(Sessions.Small("randrw"));
        var c = new CommandInterpreter(s);
        Sessions.Run(c, "break type out", "continue");
        Assert.Contains("type out", s.StopReason);
        EventRecord last = s.Events(50, "request")[^1];
        Assert.Contains(" Out ", last.Text);
    }

    [Fact]
    public void Sector_breakpoint_stops_on_a_request_touching_the_range()
    {
        using DebugSession s = DebugSession.Open(Sessions.Small("seqread"));
        var c = new CommandInterpreter(s);
        Sessions.Run(c, "break sector 100-100", "continue");
        Assert.Contains("sector 100-100", s.StopReason);
        EventRecord e = s.Events(50, "request")[^1];
        Assert.Contains("sector 96 bytes 4096", e.Text);
    }

    [Fact]
    public void Error_and_fault_breakpoints_stop_in_the_hostile_workload()
    {
        using DebugSession s = DebugSession.Open(Sessions.Small("hostile"));
        var c = new CommandInterpreter(s);
        Sessions.Run(c, "break error", "continue");
        Assert.Contains("error", s.StopReason);
        Assert.DoesNotContain("completed OK", s.Events(1, "completion")[0].Text);
        Sessions.Run(c, "delete all", "break fault", "continue");
        Assert.Contains("fault", s.StopReason);
    }

    [Fact]
    public void Notify_breakpoint_stops_after_the_notification()
    {
        using DebugSession s = Sessions.Open();
        var c = new CommandInterpreter(s);
        Sessions.Run(c, "break notify 0", "continue");
        Assert.Contains("notify 0", s.StopReason);
        Assert.Equal("notify queue 0", s.Events(1, "notify")[0].Text);
        Assert.Equal(0, s.Completions);
    }

    [Fact]
    public void Deleted_breakpoints_no_longer_stop()
    {
        using DebugSession s = Sessions.Open();
        var c = new CommandInterpreter(s);
        Sessions.Run(c, "break notify 0", "delete 1", "continue");
        Assert.Equal(MachineState.Finished, s.State);
    }

    [Theory]
    [InlineData("break", "break needs a kind")]
    [InlineData("break mmio", "usage: break mmio")]
    [InlineData("break mmio 0x71", "not 4-byte aligned")]
    [InlineData("break mmio 0x1000", "register offset '0x1000'")]
    [InlineData("break mmio 0x70 sideways", "'sideways' is not read")]
    [InlineData("break mmio 0x70 =1", "a value needs read or write")]
    [InlineData("break sector 10-2", "ends before it starts")]
    [InlineData("break sector x", "not a sector range")]
    [InlineData("break type fries", "unknown request type 'fries'")]
    [InlineData("break notify", "usage: break notify Q")]
    [InlineData("break banana", "unknown breakpoint kind 'banana'")]
    [InlineData("frobnicate", "unknown command 'frobnicate'")]
    [InlineData("step lots", "count 'lots'")]
    [InlineData("delete 9", "no breakpoint 9")]
    [InlineData("queue 5", "queue 5 does not exist")]
    [InlineData("events 5 sneezes", "unknown event kind 'sneezes'")]
    [InlineData("compose write 1 0", "outside the disk")]
    public void Bad_input_gives_one_clear_message_and_the_session_goes_on(string line, string message)
    {
        using DebugSession s = Sessions.Open();
        var c = new CommandInterpreter(s);
        CommandResult bad = c.Execute(line);
        Assert.False(bad.Ok);
        Assert.Contains(message, bad.Error, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', bad.Error!);
        Assert.Empty(s.Breakpoints);
        CommandResult good = c.Execute("step");
        Assert.True(good.Ok);
        Assert.Equal(1, s.Position);
    }
}
