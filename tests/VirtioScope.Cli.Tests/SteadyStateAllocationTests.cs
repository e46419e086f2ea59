using VirtioScope.Block;
using VirtioScope.Guest;
using VirtioScope.Memory;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Cli.Tests;

/// <summary>The hot path must not allocate per request: counted in bytes, not timed.</summary>
public sealed class SteadyStateAllocationTests : IBlkCompletionHandler
{
    private long _completed;

    void IBlkCompletionHandler.OnCompleted(in BlkCompletion completion, ReadOnlySpan<byte> data) => _completed++;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Random_reads_allocate_nothing_per_request(bool packed)
    {
        using var backend = new MemoryBackend(16 << 20);
        using GuestMemory memory = GuestMemory.Create();
        var device = new BlockDevice(backend);
        var transport = new MmioTransport(device, memory.CreateView());
        using var guest = new VirtioBlkGuest(transport, memory, new GuestDriverOptions { QueueDepth = 64, UsePacked = packed });
        transport.InterruptRaised = guest.OnInterrupt;
        guest.Initialize();
        BlkQueue queue = guest.Queues[0];
        ulong x = 88172645463325252UL;

        void Drive(long n)
        {
            long target = _completed + n;
            long issued = _completed + queue.Outstanding;
            while (_completed < target)
            {
                while (issued < target && queue.FreeSlots > 0)
                {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    queue.TrySubmitRead(x % 4096 * 8, 4096, 0);
                    issued++;
                }
                queue.Kick();
                queue.ProcessCompletions(this);
            }
        }

        Drive(300_000); // warm-up: tiered JIT and on-stack replacement allocate while they settle
        long before = GC.GetAllocatedBytesForCurrentThread();
        Drive(200_000);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // A few bytes of runtime noise are possible; one allocation per request would be at least 4.8 MB.
        Assert.True(allocated < 16 * 1024, $"{allocated} bytes allocated for 200,000 requests");
    }
}
