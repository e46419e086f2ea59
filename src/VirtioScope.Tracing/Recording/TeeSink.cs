using VirtioScope.Tracing.Format;

namespace VirtioScope.Tracing.Recording;

/// <summary>Hands every record to two sinks in turn (a trace file and a replay's comparison, say).</summary>
public sealed class TeeSink(ITraceSink first, ITraceSink second) : ITraceSink
{
    private readonly ITraceSink _first = first ?? throw new ArgumentNullException(nameof(first));
    private readonly ITraceSink _second = second ?? throw new ArgumentNullException(nameof(second));

    /// <inheritdoc />
    public void Mmio(bool isWrite, uint offset, int width, uint value)
    {
        _first.Mmio(isWrite, offset, width, value);
        _second.Mmio(isWrite, offset, width, value);
    }

    /// <inheritdoc />
    public void GuestRead(ulong address, ReadOnlySpan<byte> bytes)
    {
        _first.GuestRead(address, bytes);
        _second.GuestRead(address, bytes);
    }

    /// <inheritdoc />
    public void DeviceWrite(ulong address, ReadOnlySpan<byte> bytes)
    {
        _first.DeviceWrite(address, bytes);
        _second.DeviceWrite(address, bytes);
    }

    /// <inheritdoc />
    public void Interrupt(uint interruptStatus)
    {
        _first.Interrupt(interruptStatus);
        _second.Interrupt(interruptStatus);
    }

    /// <inheritdoc />
    public void BackendIo(BackendOp op, long offset, long length, ReadOnlySpan<byte> data)
    {
        _first.BackendIo(op, offset, length, data);
        _second.BackendIo(op, offset, length, data);
    }

    /// <inheritdoc />
    public void Request(int queue, int id, byte type, ulong sector, long dataBytes, int segments, int rejection, long timestamp)
    {
        _first.Request(queue, id, type, sector, dataBytes, segments, rejection, timestamp);
        _second.Request(queue, id, type, sector, dataBytes, segments, rejection, timestamp);
    }

    /// <inheritdoc />
    public void Completion(int queue, int id, byte status, uint usedLength, long timestamp)
    {
        _first.Completion(queue, id, status, usedLength, timestamp);
        _second.Completion(queue, id, status, usedLength, timestamp);
    }

    /// <inheritdoc />
    public void Fault(string message)
    {
        _first.Fault(message);
        _second.Fault(message);
    }
}
