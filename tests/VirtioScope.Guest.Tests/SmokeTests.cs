using VirtioScope.Block;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Guest.Tests;

public sealed class SmokeTests
{
    private sealed class Collector : IBlkCompletionHandler
    {
        public List<BlkCompletion> Done { get; } = [];
        public byte[] LastData { get; private set; } = [];

        public void OnCompleted(in BlkCompletion completion, ReadOnlySpan<byte> data)
        {
            Done.Add(completion);
            LastData = data.ToArray();
        }
    }

    [Theory]
    [InlineData(false, MmioVersion.Modern)]
    [InlineData(true, MmioVersion.Modern)]
    [InlineData(false, MmioVersion.Legacy)]
    public void WriteThenReadBack(bool packed, MmioVersion version)
    {
        using var rig = new GuestRig(new GuestDriverOptions { UsePacked = packed, SegmentBytes = 1024 }, version: version);
        rig.Guest.Initialize();
        BlkQueue q = rig.Guest.Queues[0];
        int slot = q.TryReserve();
        q.GetBuffer(slot)[..4096].Fill(0xab);
        Assert.True(q.SubmitWrite(slot, 8, 4096, 1));
        q.Kick();
        var c = new Collector();
        Assert.Equal(1, q.ProcessCompletions(c));
        Assert.Equal(BlkStatus.Ok, c.Done[0].Status);
        Assert.Equal(0xab, rig.Backend.Contents[8 * 512]);
        Assert.True(q.TrySubmitRead(8, 4096, 2));
        q.Kick();
        Assert.Equal(1, q.ProcessCompletions(c));
        Assert.Equal(BlkStatus.Ok, c.Done[1].Status);
        Assert.Equal(4097u, c.Done[1].UsedLength);
        Assert.All(c.LastData, b => Assert.Equal(0xab, b));
    }
}
