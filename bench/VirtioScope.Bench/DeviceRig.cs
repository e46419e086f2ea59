using VirtioScope.Block;
using VirtioScope.Guest;
using VirtioScope.Memory;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Bench;

/// <summary>Guest, transport, device and memory backend wired together as <c>virtioscope run</c> does, on one thread.</summary>
public sealed class DeviceRig : IDisposable, IBlkCompletionHandler
{
    private readonly GuestMemory _memory;

    public DeviceRig(long diskBytes, int queueDepth, int requestBytes)
    {
        Backend = new MemoryBackend(diskBytes);
        _memory = GuestMemory.Create(GuestMemory.DefaultBase, (ulong)Math.Max(64L << 20, (long)queueDepth * (requestBytes + 4096) + (32L << 20)));
        Device = new BlockDevice(Backend);
        Transport = new MmioTransport(Device, _memory.CreateView());
        Guest = new VirtioBlkGuest(Transport, _memory, new GuestDriverOptions
        {
            QueueDepth = queueDepth,
            QueueSize = 256,
            MaxRequestBytes = Math.Max(requestBytes, 64 * 1024),
        });
        Transport.InterruptRaised = Guest.OnInterrupt;
        Guest.Initialize();
        Queue = Guest.Queues[0];
    }

    public MemoryBackend Backend { get; }

    public BlockDevice Device { get; }

    public MmioTransport Transport { get; }

    public VirtioBlkGuest Guest { get; }

    public BlkQueue Queue { get; }

    public long Completed { get; private set; }

    /// <summary>Keeps the queue full: refill, kick, reap, until <paramref name="requests"/> have completed.</summary>
    public void Drive(long requests, int requestBytes, ulong sectorSpan, ref ulong rng)
    {
        long target = Completed + requests;
        long issued = Completed + Queue.Outstanding;
        int sectorsPerRequest = requestBytes / 512;
        while (Completed < target)
        {
            while (issued < target && Queue.FreeSlots > 0)
            {
                // xorshift: cheap, deterministic, allocation-free.
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                ulong sector = rng % (sectorSpan / (ulong)sectorsPerRequest) * (ulong)sectorsPerRequest;
                Queue.TrySubmitRead(sector, requestBytes, (ulong)issued);
                issued++;
            }
            Queue.Kick();
            Queue.ProcessCompletions(this);
        }
    }

    public void OnCompleted(in BlkCompletion completion, ReadOnlySpan<byte> data) => Completed++;

    public void Dispose()
    {
        Guest.Dispose();
        Backend.Dispose();
        _memory.Dispose();
    }
}
