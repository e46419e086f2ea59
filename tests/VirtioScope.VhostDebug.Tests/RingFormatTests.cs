using VirtioScope.Block;
using VirtioScope.Testing;
using VirtioScope.VhostUser.Tests;

namespace VirtioScope.VhostDebug.Tests;

/// <summary>The gate on packed rings (the debugger reads the descriptor flags to see what waits) and across two rings.</summary>
public sealed class RingFormatTests
{
    private static readonly TimeSpan Bound = DebugRig.Bound;

    [Fact]
    public void StepOnAPackedRingTakesOneChainAtATimeAcrossTheWrap()
    {
        using var server = new ServerFixture();
        using var controller = new VhostDebugController(server.Backend);
        using var fe = new Frontend(server, packed: true);
        var ring = new MockPackedRing(fe.Guest.Memory, Frontend.RingBase, 8);
        Assert.Equal(0UL, fe.StartRing(0, ring.Layout, baseNum: 0x8000_8000));

        // Three-descriptor chains in 8 slots: ids 0 and 1 fill slots 0-5; id 2 takes slots 6, 7 and 0 of the next lap.
        ulong At(ushort id) => Frontend.DataBase + id * 0x1000UL;
        ring.Add(0, fe.Request(At(0), BlkRequestType.Out, 0, 512));
        ring.Add(1, fe.Request(At(1), BlkRequestType.Out, 1, 512));
        fe.Kicks[0].Signal();
        Assert.True(SpinWait.SpinUntil(() => controller.Held > 0, Bound));
        Assert.False(ring.TryTakeUsed(3, out _, out _));

        Assert.Equal(0UL, controller.Step(Bound).Request!.Sector);
        Assert.True(ring.TryTakeUsed(3, out ushort id, out _));
        Assert.Equal(0, id);
        Assert.False(ring.TryTakeUsed(3, out _, out _));
        Assert.Equal(0xff, fe.Status(At(1), 512));

        Assert.Equal(1UL, controller.Step(Bound).Request!.Sector);
        Assert.True(ring.TryTakeUsed(3, out id, out _));
        Assert.Equal(1, id);

        ring.Add(2, fe.Request(At(2), BlkRequestType.In, 2, 512));
        fe.Kicks[0].Signal();
        VhostMoveResult third = controller.Step(Bound);
        Assert.Equal(2UL, third.Request!.Sector);
        Assert.Equal("in", third.Request.Type);
        Assert.True(ring.TryTakeUsed(3, out id, out _));
        Assert.Equal(2, id);
        Assert.Equal("packed", controller.Queue(0).Format);
    }

    [Fact]
    public void StepTakesOneRequestAcrossAllRings()
    {
        using var server = new ServerFixture(queues: 2);
        using var controller = new VhostDebugController(server.Backend);
        using var fe = new Frontend(server, rings: 2);
        var ring0 = new MockSplitRing(fe.Guest.Memory, Frontend.RingBase, 16);
        var ring1 = new MockSplitRing(fe.Guest.Memory, Frontend.RingBase + 0x1000, 16);
        Assert.Equal(0UL, fe.StartRing(0, ring0.Layout));
        Assert.Equal(0UL, fe.StartRing(1, ring1.Layout));
        ring0.Publish(ring0.WriteChain(fe.Request(Frontend.DataBase, BlkRequestType.Out, 0, 512)));
        ring1.Publish(ring1.WriteChain(fe.Request(Frontend.DataBase + 0x2000, BlkRequestType.Out, 1, 512)));
        fe.Kicks[0].Signal();
        fe.Kicks[1].Signal();
        Assert.True(SpinWait.SpinUntil(() => controller.Held >= 2, Bound));

        VhostMoveResult r = controller.Step(Bound);
        Assert.NotNull(r.Request);
        Assert.Equal(1, ring0.UsedIdx + ring1.UsedIdx);
        Assert.Equal(1L, controller.Completions);
        Assert.Equal(1, controller.Queue(r.Request.Queue).Completed);

        controller.Continue(Bound);
        Assert.True(controller.WaitCompletions(2, Bound));
        Assert.Equal((ushort)1, ring0.UsedIdx);
        Assert.Equal((ushort)1, ring1.UsedIdx);
    }
}
