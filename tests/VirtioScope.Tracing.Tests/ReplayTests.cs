using VirtioScope.Block;
using VirtioScope.Guest.Workloads;
using VirtioScope.Tracing.Format;
using VirtioScope.Tracing.Replay;

namespace VirtioScope.Tracing.Tests;

public class ReplayTests
{
    public static TheoryData<string, bool, bool> Matrix()
    {
        var data = new TheoryData<string, bool, bool>();
        foreach (string w in WorkloadRunner.Names)
        {
            data.Add(w, false, false);
            data.Add(w, true, false);
            data.Add(w, false, true);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public void Record_then_replay_is_identical(string workload, bool packed, bool legacy)
    {
        byte[] trace = TraceRig.Record(TraceRig.Options(workload, packed, legacy));
        ReplayResult r = TraceRig.Replay(trace);
        Assert.True(r.Divergence is null, r.Divergence?.ToText());
        using TraceReader reader = TraceRig.Open(trace);
        Assert.Equal(reader.EventCount, r.Events);
        Assert.Equal(reader.EventCount, r.Matched);
        Assert.True(r.Accesses > 50);
    }
}
