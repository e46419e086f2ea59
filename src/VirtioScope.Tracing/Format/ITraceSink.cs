namespace VirtioScope.Tracing.Format;

/// <summary>
/// Where a recorder puts records: a <see cref="TraceWriter"/> for a file, or a replay's verifier. Every method
/// appends one event; none keeps the spans it is given.
/// </summary>
public interface ITraceSink
{
    /// <summary>A register load or store.</summary>
    void Mmio(bool isWrite, uint offset, int width, uint value);

    /// <summary>The device read guest memory.</summary>
    void GuestRead(ulong address, ReadOnlySpan<byte> bytes);

    /// <summary>The device wrote guest memory; <paramref name="bytes"/> is the content now there.</summary>
    void DeviceWrite(ulong address, ReadOnlySpan<byte> bytes);

    /// <summary>The device raised its interrupt.</summary>
    void Interrupt(uint interruptStatus);

    /// <summary>The device called its backend; <paramref name="data"/> is what was read or written (empty otherwise).</summary>
    void BackendIo(BackendOp op, long offset, long length, ReadOnlySpan<byte> data);

    /// <summary>The device parsed a request.</summary>
    void Request(int queue, int id, byte type, ulong sector, long dataBytes, int segments, int rejection, long timestamp);

    /// <summary>The device completed a request.</summary>
    void Completion(int queue, int id, byte status, uint usedLength, long timestamp);

    /// <summary>The device reported a fault.</summary>
    void Fault(string message);
}
