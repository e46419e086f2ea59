using VirtioScope.Block;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using VirtioScope.Memory;
using VirtioScope.Tracing.Format;
using VirtioScope.Virtio;
using VirtioScope.Virtio.Events;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Tracing.Recording;

/// <summary>
/// Interposes between a guest and an <see cref="MmioTransport"/> and records, into an <see cref="ITraceSink"/>, every
/// register access, every read of guest memory by the device (which is how the guest's ring and buffer writes are
/// captured), every write of guest memory by the device, interrupts, and the device's request, completion and fault
/// events. The device knows nothing of it: the recorder is the guest's <see cref="IMmioDevice"/>, an observer on the
/// device's memory view, a subscriber of the event hub, and a wrapper of the interrupt line. Backend calls are
/// recorded by a <see cref="RecordingBackend"/> writing to the same sink.
/// </summary>
/// <remarks>
/// Order within one access (docs/trace-format.md): a write is recorded before it reaches the transport, a read after
/// it returns; what the device does meanwhile is recorded as it happens, except its writes to guest memory, which are
/// recorded (with a hash of the final bytes) when the access ends or just before an interrupt is raised.
/// </remarks>
public sealed class TraceRecorder : IMmioDevice, IGuestMemoryObserver, IBlockRequestObserver, IDisposable
{
    private readonly ITraceSink _sink;
    private readonly MmioTransport _transport;
    private readonly GuestMemory _deviceView;
    private readonly GuestMemory _plainView;
    private readonly IDisposable? _subscription;
    private readonly BlockDevice? _device;
    private bool _stopped;
    private readonly long _start = Stopwatch.GetTimestamp();
    private (ulong Address, int Length)[] _pending = new (ulong, int)[64];
    private int _pendingCount;

    /// <summary>
    /// Starts recording the transport's device (its memory view gets this recorder as observer). Given the
    /// <paramref name="device"/> (a block device), requests and completions come through its allocation-free
    /// <see cref="BlockDevice.RequestObserver"/> and only faults through the event hub; otherwise everything comes
    /// through the event stream (which builds an object per event).
    /// </summary>
    public TraceRecorder(ITraceSink sink, MmioTransport transport, BlockDevice? device = null)
    {
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentNullException.ThrowIfNull(transport);
        _sink = sink;
        _transport = transport;
        _deviceView = transport.Memory;
        _plainView = _deviceView.CreateView();
        _deviceView.Observer = this;
        if (device is null)
        {
            _subscription = transport.Events.Subscribe(OnEvent);
        }
        else
        {
            _device = device;
            device.RequestObserver = this;
            transport.Events.SubscribeFaults(f =>
            {
                if (!_stopped)
                {
                    _sink.Fault(f.Message);
                }
            });
        }
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void IBlockRequestObserver.RequestParsed(int queue, ushort id, BlkRequestType type, ulong sector, uint dataBytes, int segments, RequestRejection rejection) =>
        _sink.Request(queue, id, RequestCodes.TypeCode(type), sector, dataBytes, segments, (int)rejection, Elapsed());

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void IBlockRequestObserver.RequestCompleted(int queue, ushort id, byte status, uint usedLength) =>
        _sink.Completion(queue, id, status, usedLength, Elapsed());

    /// <summary>
    /// Called with every span of guest memory the device is about to read, before it is recorded; a replayer uses it to
    /// put the recorded guest bytes in place.
    /// </summary>
    public GuestReadFeeder? Feeder { get; set; }

    /// <summary>Wraps the guest's interrupt handler so that the interrupt is recorded before the guest sees it.</summary>
    public Action InterruptHandler(Action? guestHandler) => [MethodImpl(MethodImplOptions.AggressiveOptimization)] () =>
    {
        FlushDeviceWrites();
        _sink.Interrupt(_transport.InterruptStatus);
        guestHandler?.Invoke();
    };

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public uint Read(ulong offset, int width)
    {
        uint value = _transport.Read(offset, width);
        FlushDeviceWrites();
        _sink.Mmio(false, (uint)Math.Min(offset, uint.MaxValue), width, value);
        return value;
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Write(ulong offset, int width, uint value)
    {
        _sink.Mmio(true, (uint)Math.Min(offset, uint.MaxValue), width, value);
        _transport.Write(offset, width, value);
        FlushDeviceWrites();
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void IGuestMemoryObserver.OnRead(ulong address, Span<byte> bytes)
    {
        Feeder?.Invoke(address, bytes);
        _sink.GuestRead(address, bytes);
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void IGuestMemoryObserver.OnWrite(ulong address, int length)
    {
        if (_pendingCount == _pending.Length)
        {
            Array.Resize(ref _pending, _pending.Length * 2);
        }
        _pending[_pendingCount++] = (address, length);
    }

    /// <summary>Records the device's pending writes to guest memory with the bytes now there.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void FlushDeviceWrites()
    {
        for (int i = 0; i < _pendingCount; i++)
        {
            (ulong address, int length) = _pending[i];
            if (_plainView.TryGetReadSpan(address, length, out ReadOnlySpan<byte> bytes) is null)
            {
                _sink.DeviceWrite(address, bytes);
            }
        }
        _pendingCount = 0;
    }

    private void OnEvent(VirtioEvent e)
    {
        switch (e)
        {
            case RequestParsedEvent r:
                _sink.Request(r.Queue, r.Id, RequestCodes.TypeCode(r.Type), r.Sector, r.DataBytes, r.Segments,
                    RequestCodes.RejectionCode(r.Rejection), Elapsed());
                break;
            case CompletionEvent c:
                _sink.Completion(c.Queue, c.Id, c.Status, c.UsedLength, Elapsed());
                break;
            case FaultEvent f:
                _sink.Fault(f.Message);
                break;
            default:
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private long Elapsed() => (long)Stopwatch.GetElapsedTime(_start).TotalNanoseconds;

    /// <summary>Stops observing; records writes still pending.</summary>
    public void Dispose()
    {
        FlushDeviceWrites();
        _deviceView.Observer = null;
        _subscription?.Dispose();
        if (_device is not null)
        {
            _device.RequestObserver = null;
        }
        _stopped = true;
    }
}

/// <summary>Puts guest bytes in place before the device reads them (see <see cref="TraceRecorder.Feeder"/>).</summary>
public delegate void GuestReadFeeder(ulong address, Span<byte> bytes);
