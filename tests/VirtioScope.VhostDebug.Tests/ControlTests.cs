using VirtioScope.Block;

namespace VirtioScope.VhostDebug.Tests;

/// <summary>Pause, step and continue on a live vhost-user-blk back-end, driven by the test front-end's real rings.</summary>
public sealed class ControlTests
{
    [Fact]
    public void PausedDeviceLeavesTheRequestUnansweredUntilContinue()
    {
        using var rig = new DebugRig();
        Assert.Equal(VhostRunState.Paused, rig.Controller.State);
        rig.Submit((BlkRequestType.Out, 8));
        rig.WaitHeld(0);

        // The guest's request is still in the avail ring: not taken, not answered.
        Assert.Equal(0xff, rig.Status(0));
        Assert.Equal((ushort)0, rig.Ring.UsedIdx);
        VhostQueueView q = rig.Controller.Queue(0);
        Assert.Equal(1, q.AvailIdx);
        Assert.Equal(0, q.LastAvail);
        Assert.Equal(1, q.Waiting);
        Assert.Equal(0, q.InFlight);
        Assert.Equal(0L, rig.Controller.Taken);

        VhostMoveResult moved = rig.Controller.Continue(DebugRig.Bound);
        Assert.Equal("running", moved.State);
        Assert.True(rig.Fe.Calls[0].Wait(), "no used-buffer notification after continue");
        Assert.Equal(0, rig.Status(0));
        Assert.Equal((ushort)1, rig.Ring.UsedIdx);
        Assert.Equal(0, rig.Controller.Queue(0).Waiting);
    }

    [Fact]
    public void PauseWhileRunningStopsTakingNewRequests()
    {
        using var rig = new DebugRig();
        rig.Controller.Continue(DebugRig.Bound);
        rig.Submit((BlkRequestType.Out, 0));
        Assert.True(rig.Fe.Calls[0].Wait());
        Assert.Equal(0, rig.Status(0));

        Assert.Equal("paused", rig.Controller.Pause().State);
        long held = rig.Controller.Held;
        rig.Submit((BlkRequestType.In, 0));
        rig.WaitHeld(held);
        Assert.Equal(0xff, rig.Status(1));
        Assert.Equal((ushort)1, rig.Ring.UsedIdx);
    }

    [Fact]
    public void StepTakesExactlyOneRequestAndSignalsIt()
    {
        using var rig = new DebugRig();
        rig.Submit((BlkRequestType.Out, 1), (BlkRequestType.Out, 2), (BlkRequestType.In, 3));
        rig.WaitHeld(0);

        VhostMoveResult first = rig.Controller.Step(DebugRig.Bound);
        Assert.Equal("paused", first.State);
        Assert.NotNull(first.Request);
        Assert.Equal("out", first.Request.Type);
        Assert.Equal(1UL, first.Request.Sector);
        Assert.Equal("OK", first.Request.Status);
        Assert.Equal(3, first.Request.Descriptors.Count);
        // The guest is told about the one completion even though the device is held right after it.
        Assert.True(rig.Fe.Calls[0].Wait(), "no used-buffer notification for the stepped request");
        Assert.Equal((ushort)1, rig.Ring.UsedIdx);
        Assert.Equal(0, rig.Status(0));
        Assert.Equal(0xff, rig.Status(1));
        Assert.Equal(0xff, rig.Status(2));
        Assert.Equal(2, rig.Controller.Queue(0).Waiting);

        VhostMoveResult second = rig.Controller.Step(DebugRig.Bound);
        Assert.Equal(2UL, second.Request!.Sector);
        Assert.Equal((ushort)2, rig.Ring.UsedIdx);
        Assert.Equal(0xff, rig.Status(2));
        Assert.Equal(2L, rig.Controller.Completions);
    }

    [Fact]
    public void StepWaitsForTheGuestsNextRequest()
    {
        // Nothing is waiting when the step starts: the step is not used up by an empty ring, and the request the
        // guest publishes afterwards (with its kick) is the one taken.
        using var rig = new DebugRig();
        VhostMoveResult? result = null;
        var stepper = new Thread(() => result = rig.Controller.Step(DebugRig.Bound));
        stepper.Start();
        Assert.True(SpinWait.SpinUntil(() => rig.Controller.State == VhostRunState.Stepping, DebugRig.Bound));
        rig.Submit((BlkRequestType.Out, 7), (BlkRequestType.Out, 9));
        Assert.True(stepper.Join(DebugRig.Bound * 2));
        Assert.NotNull(result?.Request);
        Assert.Equal(7UL, result.Request.Sector);
        Assert.Equal((ushort)1, rig.Ring.UsedIdx);
        Assert.Equal(0xff, rig.Status(1));
    }

    [Fact]
    public void StepWithNoRequestEndsPausedAndSaysSo()
    {
        using var rig = new DebugRig();
        VhostMoveResult r = rig.Controller.Step(TimeSpan.FromMilliseconds(200));
        Assert.Equal("paused", r.State);
        Assert.Contains("no request arrived", r.Reason, StringComparison.Ordinal);
        Assert.Null(r.Request);
        // The unused step does not let a later request through.
        long held = rig.Controller.Held;
        rig.Submit((BlkRequestType.Out, 0));
        rig.WaitHeld(held);
        Assert.Equal(0xff, rig.Status(0));
        Assert.Equal(0L, rig.Controller.Taken);
    }
}
