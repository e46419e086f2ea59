namespace VirtioScope.Debugger.Tests;

public class StartPointTests
{
    private static SessionOptions Default() => Sessions.Small() with { PauseAt = PausePoint.Discovery };

    [Fact]
    public void By_default_the_session_opens_after_bus_discovery_and_the_reset()
    {
        using DebugSession s = Sessions.Open(Default());
        Assert.Equal(MachineState.Paused, s.State);
        Assert.Equal(4, s.Position);
        Assert.False(s.InsideAccess);
        Assert.Contains("bus discovery", s.StopReason);
        string[] mmio = s.Events(10, "mmio").Select(e => e.Text).ToArray();
        Assert.Equal(4, mmio.Length);
        Assert.StartsWith("read  MagicValue", mmio[0]);
        Assert.StartsWith("read  Version", mmio[1]);
        Assert.StartsWith("read  DeviceID", mmio[2]);
        Assert.StartsWith("write Status", mmio[3]);
        Assert.Equal("0 (reset)", s.Snapshot().Status);
        // Nothing counts as changed at the start.
        Assert.Empty(s.Snapshot().Changed);
    }

    [Fact]
    public void Three_steps_from_the_start_read_the_reset_back_then_reach_acknowledge_and_driver()
    {
        using DebugSession s = Sessions.Open(Default());
        s.Step();
        Assert.Equal("0 (reset)", s.Snapshot().Status);
        s.Step();
        Assert.Equal("ACKNOWLEDGE", s.Snapshot().Status);
        s.Step();
        Assert.Equal("ACKNOWLEDGE|DRIVER", s.Snapshot().Status);
    }

    [Fact]
    public void The_discovery_start_is_the_first_access_start_stepped_to_the_same_place()
    {
        using DebugSession d = Sessions.Open(Default());
        using DebugSession f = Sessions.Open();
        Assert.Equal(0, f.Position);
        f.Step(d.Position);
        Assert.Equal(d.StateFingerprint(), f.StateFingerprint());
        d.Next(3);
        f.Next(3);
        Assert.Equal(d.Position, f.Position);
        Assert.Equal(d.StateFingerprint(), f.StateFingerprint());
    }

    [Fact]
    public void Back_from_the_discovery_start_reaches_the_first_access()
    {
        using DebugSession s = Sessions.Open(Default());
        s.Back(s.Position);
        Assert.Equal(0, s.Position);
        Assert.Empty(s.Events(10));
        s.Step(4);
        using DebugSession again = Sessions.Open(Default());
        Assert.Equal(again.StateFingerprint(), s.StateFingerprint());
    }
}
