using VirtioScope.Block;
using VirtioScope.Testing;
using VirtioScope.VhostUser.Tests;

namespace VirtioScope.VhostDebug.Tests;

/// <summary>A server with the debugger attached (paused) and a test front-end with one started split ring.</summary>
internal sealed class DebugRig : IDisposable
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    public DebugRig()
    {
        Server = new ServerFixture();
        Controller = new VhostDebugController(Server.Backend);
        Fe = new Frontend(Server);
        Ring = new MockSplitRing(Fe.Guest.Memory, Frontend.RingBase, 16);
        Assert.Equal(0UL, Fe.StartRing(0, Ring.Layout));
    }

    public ServerFixture Server { get; }

    public VhostDebugController Controller { get; }

    public Frontend Fe { get; }

    public MockSplitRing Ring { get; }

    /// <summary>Where request <paramref name="i"/>'s header, data and status live.</summary>
    public static ulong At(int i) => Frontend.DataBase + (ulong)i * 0x2000;

    /// <summary>Publishes requests (type, sector, 512 bytes each) and kicks once.</summary>
    public void Submit(params (BlkRequestType Type, ulong Sector)[] requests)
    {
        for (int i = 0; i < requests.Length; i++)
        {
            int slot = Ring.AvailIdx;
            Ring.Publish(Ring.WriteChain(Fe.Request(At(slot), requests[i].Type, requests[i].Sector, 512)));
        }
        Fe.Kicks[0].Signal();
    }

    /// <summary>Status byte of request <paramref name="i"/> (0xff while the device has not answered).</summary>
    public byte Status(int i) => Fe.Status(At(i), 512);

    /// <summary>Waits until the worker has looked at the ring and been held back by the paused debugger.</summary>
    public void WaitHeld(long before)
    {
        Assert.True(SpinWait.SpinUntil(() => Controller.Held > before, Bound), "the queue worker never asked the debugger's gate");
    }

    public void Dispose()
    {
        Controller.Dispose();
        Fe.Dispose();
        Server.Dispose();
    }
}
