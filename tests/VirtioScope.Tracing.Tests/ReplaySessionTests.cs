using VirtioScope.Block;
using VirtioScope.Tracing.Format;
using VirtioScope.Tracing.Replay;
using VirtioScope.Virtio;

namespace VirtioScope.Tracing.Tests;

public class ReplaySessionTests
{
    [Fact]
    public void Stepping_a_session_shows_the_device_state_at_each_event_and_ends_identical()
    {
        byte[] trace = TraceRig.Record(TraceRig.Options("randwrite"));
        using TraceReader reader = TraceRig.Open(trace);
        long driverOk = reader.Events().First(e => e.Kind == RecordKind.MmioWrite && e.Address == MmioRegisters.Status && (e.Value & (ulong)DeviceStatus.DriverOk) != 0).Number;
        using var backend = new MemoryBackend(reader.Header.Backend.VirtualSize);
        using var session = new ReplaySession(reader, backend, new ReplayOptions { Verify = true });
        session.RunTo(driverOk - 1);
        Assert.Equal(driverOk, session.NextEvent);
        Assert.False(session.Transport.Status.HasFlag(DeviceStatus.DriverOk));
        session.RunTo(driverOk);
        Assert.True(session.Transport.Status.HasFlag(DeviceStatus.DriverOk));
        for (long n = driverOk + 1; !session.Finished; n += 97)
        {
            session.RunTo(n);
            Assert.True(session.NextEvent > n || session.Finished);
        }
        Assert.Null(session.Divergence);
        Assert.Equal(reader.EventCount, session.Result().Matched);
    }
}
