using VirtioScope.Memory;
using VirtioScope.Virtio;

namespace VirtioScope.Debugger.Sources;

/// <summary>What a <see cref="IGuestActionSource"/> gets to work with: the gated register window, guest memory, the interrupt line and the composed requests.</summary>
public sealed class GuestActionContext
{
    private readonly Func<IReadOnlyList<ComposedRequest>> _takeComposed;
    private readonly Action<Action> _connectInterrupt;

    internal GuestActionContext(IMmioDevice mmio, GuestMemory memory, SessionOptions options,
        Action<Action> connectInterrupt, Func<IReadOnlyList<ComposedRequest>> takeComposed)
    {
        Mmio = mmio;
        Memory = memory;
        Options = options;
        _connectInterrupt = connectInterrupt;
        _takeComposed = takeComposed;
    }

    /// <summary>The device's register window; every access may pause here.</summary>
    public IMmioDevice Mmio { get; }

    /// <summary>Guest memory (the guest's own view).</summary>
    public GuestMemory Memory { get; }

    /// <summary>The session's options (device, queues, workload).</summary>
    public SessionOptions Options { get; }

    /// <summary>Connects the device's interrupt line to <paramref name="handler"/>.</summary>
    public void ConnectInterrupt(Action handler) => _connectInterrupt(handler);

    /// <summary>
    /// Requests composed in the debugger that are due now. A source calls this at points where it can submit extra
    /// requests; re-execution hands out the same requests at the same point.
    /// </summary>
    public IReadOnlyList<ComposedRequest> TakeComposed() => _takeComposed();
}
