namespace VirtioScope.Memory;

/// <summary>
/// Watches the accesses made through one <see cref="GuestMemory"/> view (tracing tools put one on the device's view).
/// Unset, it costs the view one null check per access.
/// </summary>
public interface IGuestMemoryObserver
{
    /// <summary>
    /// A read span over guest memory was handed out. The observer sees the bytes before the reader does and may
    /// overwrite them (a replayer feeds recorded guest memory in this way).
    /// </summary>
    void OnRead(ulong address, Span<byte> bytes);

    /// <summary>A write span was handed out; the bytes are written by the caller after this returns.</summary>
    void OnWrite(ulong address, int length);
}
