namespace VirtioScope.Block;

/// <summary>
/// Sees each request the device parses and completes, without the event stream's allocations: what a recorder needs
/// on the hot path. Called on the device's thread, in the order the event stream would publish the same facts.
/// </summary>
public interface IBlockRequestObserver
{
    /// <summary>A request was parsed (<paramref name="rejection"/> is <see cref="RequestRejection.None"/> when it is valid).</summary>
    void RequestParsed(int queue, ushort id, BlkRequestType type, ulong sector, uint dataBytes, int segments, RequestRejection rejection);

    /// <summary>A request was completed with <paramref name="status"/> and <paramref name="usedLength"/> bytes written.</summary>
    void RequestCompleted(int queue, ushort id, byte status, uint usedLength);
}
