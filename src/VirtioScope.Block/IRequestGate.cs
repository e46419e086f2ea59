using VirtioScope.Memory;
using VirtioScope.Virtio.Queues;

namespace VirtioScope.Block;

/// <summary>
/// Lets a debugger hold a queue: asked on the queue's processing thread before the device takes each request. While
/// it says no the device leaves the ring as it stands (the driver's requests simply wait there); whoever holds the
/// gate wakes the queue again when it opens, since the driver will not notify for requests it has already published.
/// </summary>
public interface IRequestGate
{
    /// <summary>Whether the device may take the next request of <paramref name="queue"/> now.</summary>
    /// <param name="queue">Queue index.</param>
    /// <param name="virtQueue">The queue, for looking at what is waiting without taking it.</param>
    /// <param name="memory">Guest memory the queue lives in.</param>
    bool MayTake(int queue, VirtQueue virtQueue, GuestMemory memory);
}
