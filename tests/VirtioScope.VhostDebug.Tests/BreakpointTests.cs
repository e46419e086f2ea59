using VirtioScope.Block;
using VirtioScope.Debugger;

namespace VirtioScope.VhostDebug.Tests;

/// <summary>Each breakpoint kind stops the live device after the matching request and before the next one.</summary>
public sealed class BreakpointTests
{
    [Fact]
    public void TypeBreakpointStopsAfterTheFirstWrite()
    {
        using var rig = new DebugRig();
        VhostBreakpoint b = rig.Controller.AddBreakpoint(["type=write"]);
        Assert.Equal("type out", b.Spec);
        rig.Submit((BlkRequestType.In, 0), (BlkRequestType.In, 1), (BlkRequestType.Out, 2), (BlkRequestType.In, 3));
        VhostMoveResult r = rig.Controller.Continue(DebugRig.Bound);
        Assert.Equal("paused", r.State);
        Assert.Equal(b.Id, r.Breakpoint);
        Assert.Equal("out", r.Request!.Type);
        Assert.Equal(2UL, r.Request.Sector);
        Assert.Equal((ushort)3, rig.Ring.UsedIdx);
        Assert.Equal(0xff, rig.Status(3));
    }

    [Fact]
    public void SectorBreakpointStopsOnlyOnARequestTouchingTheRange()
    {
        using var rig = new DebugRig();
        rig.Controller.AddBreakpoint(["sector=50-60"]);
        // Sector 49 with 512 bytes ends before 50; sector 60 starts inside the range.
        rig.Submit((BlkRequestType.Out, 49), (BlkRequestType.In, 61), (BlkRequestType.In, 60), (BlkRequestType.In, 50));
        VhostMoveResult r = rig.Controller.Continue(DebugRig.Bound);
        Assert.Equal(60UL, r.Request!.Sector);
        Assert.Equal("in", r.Request.Type);
        Assert.Equal((ushort)3, rig.Ring.UsedIdx);
        Assert.Equal(0xff, rig.Status(3));
    }

    [Fact]
    public void StatusBreakpointStopsAfterAnIoError()
    {
        using var rig = new DebugRig();
        rig.Controller.AddBreakpoint(["status=ioerr"]);
        // The 1 MiB disk has 2048 sectors: a read at 5000 is out of range and answered IOERR.
        rig.Submit((BlkRequestType.In, 0), (BlkRequestType.In, 5000), (BlkRequestType.In, 1));
        VhostMoveResult r = rig.Controller.Continue(DebugRig.Bound);
        Assert.Equal("IOERR", r.Request!.Status);
        Assert.Equal(5000UL, r.Request.Sector);
        Assert.Equal(1, rig.Status(1));
        Assert.Equal(0xff, rig.Status(2));
        Assert.Equal((ushort)2, rig.Ring.UsedIdx);
    }

    [Fact]
    public void DeletedBreakpointNoLongerStops()
    {
        using var rig = new DebugRig();
        VhostBreakpoint b = rig.Controller.AddBreakpoint(["type", "write"]);
        Assert.True(rig.Controller.DeleteBreakpoint(b.Id));
        Assert.False(rig.Controller.DeleteBreakpoint(b.Id));
        rig.Controller.Continue(DebugRig.Bound);
        rig.Submit((BlkRequestType.Out, 0), (BlkRequestType.Out, 1));
        Assert.True(rig.Controller.WaitCompletions(2, DebugRig.Bound));
        Assert.Equal(VhostRunState.Running, rig.Controller.State);
        Assert.Equal(0, rig.Status(1));
    }

    [Theory]
    [InlineData("mmio 0x70", "not available on a vhost-user device")]
    [InlineData("status=weird", "unknown completion status 'weird'")]
    [InlineData("sector=9-3", "ends before it starts")]
    [InlineData("type=frobnicate", "unknown request type 'frobnicate'")]
    [InlineData("", "break needs a kind")]
    public void BadBreakpointSpecsGiveOneClearMessage(string spec, string message)
    {
        var e = Assert.Throws<CommandException>(() => VhostBreakpoint.Parse(1, spec.Split(' ', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }
}
