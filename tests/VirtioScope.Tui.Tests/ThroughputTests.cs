using System.Diagnostics;
using Terminal.Gui.Input;
using VirtioScope.Block;
using VirtioScope.Debugger.Sources;
using VirtioScope.Guest;
using VirtioScope.Guest.Workloads;
using VirtioScope.Memory;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Tui.Tests;

public class ThroughputTests
{
    private const long Requests = 150_000;

    /// <summary>run's wiring with no debugger: memory, device, transport and guest, events off.</summary>
    private static TimeSpan Plain()
    {
        using GuestMemory memory = GuestMemory.Create(GuestMemory.DefaultBase, 64UL << 20);
        using var backend = new MemoryBackend(1 << 20);
        var device = new BlockDevice(backend, new BlockDeviceOptions());
        var transport = new MmioTransport(device, memory.CreateView());
        var options = Headless.Small() with { QueueDepth = 64, Requests = Requests };
        using var guest = new VirtioBlkGuest(transport, memory, LiveGuestSource.DriverOptions(options, device.MaxQueueSize));
        transport.InterruptRaised = guest.OnInterrupt;
        guest.Initialize();
        var clock = Stopwatch.StartNew();
        WorkloadRunner.Run(guest, new WorkloadOptions { Name = "randread", Requests = Requests, QueueDepth = 64, BlockSize = 4096, Seed = 3 });
        return clock.Elapsed;
    }

    /// <summary>The same workload under the debugger with the TUI attached, refreshed at its 30 Hz period while running.</summary>
    private static TimeSpan Debugged()
    {
        using var h = new Headless(Headless.Small() with { QueueDepth = 64, Requests = Requests });
        h.Press(Key.F5);
        var clock = Stopwatch.StartNew();
        while (h.View.IsContinuing)
        {
            Thread.Sleep(Views.DebuggerView.RefreshPeriod);
            h.View.Tick();
            // As the main loop does: lay out and draw what changed.
            h.App.LayoutAndDraw(false);
        }
        TimeSpan elapsed = clock.Elapsed;
        h.View.Tick();
        Assert.Equal(Requests, h.Session.Completions);
        return elapsed;
    }

    [Fact]
    public void Continue_with_the_tui_attached_keeps_at_least_half_of_runs_throughput()
    {
        // Best of two each, alternating, so that a busy neighbour on a shared machine hurts both sides alike.
        TimeSpan plain = TimeSpan.MaxValue, debugged = TimeSpan.MaxValue;
        for (int i = 0; i < 2; i++)
        {
            TimeSpan p = Plain();
            TimeSpan d = Debugged();
            plain = p < plain ? p : plain;
            debugged = d < debugged ? d : debugged;
        }
        double ratio = plain.TotalSeconds / debugged.TotalSeconds;
        Assert.True(ratio >= 0.5, $"debugger throughput is {ratio:P0} of the plain run ({debugged.TotalMilliseconds:F0} ms vs {plain.TotalMilliseconds:F0} ms)");
    }
}
