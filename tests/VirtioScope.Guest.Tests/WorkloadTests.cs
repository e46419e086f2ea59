using VirtioScope.Block;
using VirtioScope.Guest.Workloads;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Guest.Tests;

public sealed class WorkloadTests(Xunit.Abstractions.ITestOutputHelper output)
{
    public static TheoryData<string, bool, MmioVersion, bool, bool> Matrix()
    {
        var data = new TheoryData<string, bool, MmioVersion, bool, bool>();
        // Every workload on split v2, packed v2 and split legacy rings, with each combination of event idx and indirect.
        foreach (string name in WorkloadRunner.Names)
        {
            foreach ((bool packed, MmioVersion version) in new[] { (false, MmioVersion.Modern), (true, MmioVersion.Modern), (false, MmioVersion.Legacy) })
            {
                foreach (bool eventIdx in new[] { true, false })
                {
                    foreach (bool indirect in new[] { true, false })
                    {
                        data.Add(name, packed, version, eventIdx, indirect);
                    }
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public void EveryWorkloadRunsAndVerifies(string name, bool packed, MmioVersion version, bool eventIdx, bool indirect)
    {
        using var rig = new GuestRig(
            new GuestDriverOptions { UsePacked = packed, UseEventIdx = eventIdx, UseIndirect = indirect, QueueSize = 64, QueueDepth = 16, SegmentBytes = 2048 },
            version: version, diskBytes: 4 << 20);
        WorkloadResult r = WorkloadRunner.Run(rig.Guest, new WorkloadOptions
        {
            Name = name, Requests = 600, QueueDepth = 16, BlockSize = 4096, Seed = 7, Verify = true, AssumeZeroedMedium = true,
        });
        Assert.Equal(0, r.VerifyFailures);
        Assert.True(r.Requests >= 600, $"{r.Requests} requests");
        if (name == "hostile")
        {
            foreach (HostileCaseResult c in r.HostileCases)
            {
                output.WriteLine($"{c.Name,-24} injected {c.Injected,3} ok {c.Ok} ioerr {c.IoErr} unsupp {c.Unsupp} nostatus {c.NoStatus} reset {c.NeedsReset} silent {c.Unanswered}");
            }
            Assert.True(r.ErrorsByStatus.IoErr > 0, "no IOERR");
            Assert.True(r.ErrorsByStatus.Unsupp > 0, "no UNSUPP");
            Assert.All(r.HostileCases, c => Assert.True(c.Unexpected == 0,
                $"{c.Name}: {c.Unexpected} of {c.Injected} answers outside the spec (ok {c.Ok}, ioerr {c.IoErr}, unsupp {c.Unsupp}, no status {c.NoStatus}, reset {c.NeedsReset}, silent {c.Unanswered}); expected {c.Expected}"));
            Assert.Contains(r.HostileCases, c => c.NeedsReset > 0 || c.Unanswered > 0 || c.IoErr > 0);
        }
        else
        {
            Assert.Equal(0, r.ErrorsByStatus.Errors);
            Assert.True(r.Verified > 0, "nothing verified");
        }
        Assert.True(r.Notifications > 0);
    }
}
