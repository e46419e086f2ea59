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

    private sealed class ChainReaction(BlkQueue queue, int total) : IBlkCompletionHandler
    {
        public int Completed { get; private set; }
        public int Submitted { get; set; }

        public void OnCompleted(in BlkCompletion completion, ReadOnlySpan<byte> data)
        {
            Assert.True(completion.IsOk);
            Completed++;
            if (Submitted < total)
            {
                // Submit and kick from inside the handler: the device completes synchronously and interrupts,
                // so the driver reaps re-entrantly while this loop is still dispatching.
                Assert.True(queue.TrySubmitRead((ulong)(Submitted % 64) * 8, 4096, (ulong)Submitted));
                Submitted++;
                queue.Kick();
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void HandlersMaySubmitAndKickWhileCompletionsAreDispatched(bool packed)
    {
        // A slot is free again only once its handler returns, so keep half the slots spare for the handler's submissions.
        using var rig = new GuestRig(new GuestDriverOptions { UsePacked = packed, QueueDepth = 8 });
        rig.Guest.Initialize();
        BlkQueue q = rig.Guest.Queues[0];
        var handler = new ChainReaction(q, 500);
        for (int i = 0; i < 4; i++)
        {
            Assert.True(q.TrySubmitRead((ulong)i * 8, 4096, (ulong)i));
            handler.Submitted++;
        }
        q.Kick();
        int rounds = 0;
        while (handler.Completed < 500 && rounds++ < 1000)
        {
            q.ProcessCompletions(handler);
        }
        Assert.Equal(500, handler.Completed);
        Assert.Equal(q.Depth, q.FreeSlots);
        Assert.True(rig.Guest.Interrupts > 0);
        Assert.False(rig.Guest.NeedsReset);
    }
}
