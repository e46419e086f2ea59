using VirtioScope.Guest.Workloads;
using VirtioScope.Memory;

namespace VirtioScope.Guest.Tests;

/// <summary>A device that never answers must not hang the guest: every wait is bounded.</summary>
public sealed class HungDeviceTests
{
    [Fact]
    public void OrdinaryWorkloadStopsWithAClearError()
    {
        using GuestMemory memory = GuestMemory.Create(GuestMemory.DefaultBase, 16 << 20);
        var device = new LoopbackDevice(memory.CreateView(), 1 << 15) { Swallow = true };
        using var guest = new VirtioBlkGuest(device, memory.CreateView(), new GuestDriverOptions());
        device.Interrupt = guest.OnInterrupt;
        var e = Assert.Throws<GuestDriverException>(() => WorkloadRunner.Run(guest, new WorkloadOptions { Name = "randread", Requests = 100 }));
        Assert.Contains("stopped completing requests", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HostileWorkloadCountsSilenceResetsAndFinishes()
    {
        using GuestMemory memory = GuestMemory.Create(GuestMemory.DefaultBase, 16 << 20);
        var device = new LoopbackDevice(memory.CreateView(), 1 << 15);
        using var guest = new VirtioBlkGuest(device, memory.CreateView(), new GuestDriverOptions { QueueDepth = 8 });
        device.Interrupt = guest.OnInterrupt;
        guest.Initialize();
        device.Swallow = true;
        WorkloadResult r = WorkloadRunner.Run(guest, new WorkloadOptions { Name = "hostile", Requests = 200, QueueDepth = 8 });
        Assert.True(r.DeviceResets > 0);
        Assert.True(r.ErrorsByStatus.Aborted > 0);
        Assert.Equal(0, r.ErrorsByStatus.Ok);
    }
}
