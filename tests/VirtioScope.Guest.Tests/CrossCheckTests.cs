using VirtioScope.Guest.Workloads;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Guest.Tests;

/// <summary>The guest's counters against the device's own: two independent views of the same run must agree.</summary>
public sealed class CrossCheckTests
{
    [Theory]
    [InlineData(false, MmioVersion.Modern, "randrw")]
    [InlineData(true, MmioVersion.Modern, "randrw")]
    [InlineData(false, MmioVersion.Legacy, "randrw")]
    [InlineData(false, MmioVersion.Modern, "flush")]
    [InlineData(true, MmioVersion.Modern, "get-id")]
    public void GuestAndDeviceCountTheSameRun(bool packed, MmioVersion version, string workload)
    {
        using var rig = new GuestRig(new GuestDriverOptions { UsePacked = packed, QueueDepth = 32 }, version: version);
        WorkloadResult r = WorkloadRunner.Run(rig.Guest, new WorkloadOptions { Name = workload, Requests = 5000, QueueDepth = 32, Seed = 9 });
        Assert.Equal(rig.Device.Statistics.Requests, r.Requests);
        Assert.Equal(rig.Device.Statistics.StatusOk, r.ErrorsByStatus.Ok);
        Assert.Equal(rig.Device.Statistics.BytesRead, r.BytesRead);
        Assert.Equal(rig.Device.Statistics.BytesWritten, r.BytesWritten);
        Assert.Equal(rig.Transport.Statistics.Notifications, r.Notifications);
        Assert.Equal(rig.Transport.Statistics.InterruptsRaised + rig.Transport.Statistics.ConfigInterrupts, r.Interrupts);
        // A spec-following driver never makes the transport log a mistake.
        Assert.Equal(0, rig.Transport.Statistics.Faults);
    }

    [Fact]
    public void InitialisationAloneCausesNoTransportFault()
    {
        foreach (MmioVersion version in new[] { MmioVersion.Modern, MmioVersion.Legacy })
        {
            using var rig = new GuestRig(new GuestDriverOptions { QueueCount = 2 }, new Block.BlockDeviceOptions { NumQueues = 2 }, version: version);
            rig.Guest.Initialize();
            rig.Guest.Reset();
            rig.Guest.Initialize();
            Assert.Equal(0, rig.Transport.Statistics.Faults);
            Assert.Equal(2, rig.Guest.Queues.Count);
        }
    }
}
