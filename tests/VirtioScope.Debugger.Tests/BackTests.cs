using VirtioScope.Debugger;

namespace VirtioScope.Debugger.Tests;

public class BackTests
{
    [Fact]
    public void Back_lands_on_byte_identical_state()
    {
        using DebugSession s = Sessions.Open();
        s.Step(300);
        string at300 = s.StateFingerprint();
        DeviceSnapshot snap300 = s.Snapshot();
        var events300 = s.Events(50).Select(e => e.Text).ToList();
        s.Step(157);
        Assert.NotEqual(at300, s.StateFingerprint());
        s.Back(157);
        Assert.Equal(300, s.Position);
        Assert.Equal(at300, s.StateFingerprint());
        Assert.Equal(events300, s.Events(50).Select(e => e.Text).ToList());
        Assert.Equal(snap300.Queues[0].AvailIdx, s.Snapshot().Queues[0].AvailIdx);
        Assert.Equal(snap300.Registers.Select(r => r.Value), s.Snapshot().Registers.Select(r => r.Value));
    }

    [Fact]
    public void Back_one_access_matches_stepping_to_the_access_before()
    {
        using DebugSession a = Sessions.Open();
        using DebugSession b = Sessions.Open();
        a.Step(120);
        a.Back();
        b.Step(119);
        Assert.Equal(119, a.Position);
        Assert.Equal(b.StateFingerprint(), a.StateFingerprint());
    }

    [Fact]
    public void Back_request_lands_just_after_the_previous_completion()
    {
        using DebugSession s = Sessions.Open();
        s.Next(5);
        long afterFifth = s.Position;
        string fifth = s.StateFingerprint();
        s.Next(2);
        s.BackRequest(2);
        Assert.Equal(afterFifth, s.Position);
        Assert.Equal(5, s.Completions);
        Assert.Equal(fifth, s.StateFingerprint());
        s.Step(3);
        s.BackRequest();
        Assert.Equal(afterFifth, s.Position);
    }

    [Fact]
    public void Back_from_the_end_of_the_workload_works_and_beyond_the_start_clamps()
    {
        using DebugSession s = Sessions.Open();
        s.Continue();
        long end = s.Position;
        s.Back(10);
        Assert.Equal(MachineState.Paused, s.State);
        Assert.Equal(end - 10, s.Position);
        s.Back(1_000_000);
        Assert.Equal(0, s.Position);
        Assert.Equal("0 (reset)", s.Snapshot().Status);
    }

    [Fact]
    public void Same_seed_same_state_and_another_seed_differs()
    {
        using DebugSession a = Sessions.Open();
        using DebugSession b = Sessions.Open();
        using DebugSession c = DebugSession.Open(Sessions.Small() with { Seed = 8 });
        a.Next(30);
        b.Next(30);
        c.Next(30);
        Assert.Equal(a.Position, b.Position);
        Assert.Equal(a.StateFingerprint(), b.StateFingerprint());
        Assert.NotEqual(a.StateFingerprint(), c.StateFingerprint());
    }

    [Fact]
    public void Packed_back_stepping_is_exact_too()
    {
        using DebugSession s = DebugSession.Open(Sessions.Small() with { Packed = true });
        s.Next(20);
        string at = s.StateFingerprint();
        s.Next(9);
        s.BackRequest(9);
        Assert.Equal(20, s.Completions);
        Assert.Equal(at, s.StateFingerprint());
        s.Step(5);
        string later = s.StateFingerprint();
        long pos = s.Position;
        s.Step(7);
        s.Back(7);
        Assert.Equal(pos, s.Position);
        Assert.Equal(later, s.StateFingerprint());
    }
}
