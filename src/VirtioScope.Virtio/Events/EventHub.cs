namespace VirtioScope.Virtio.Events;

/// <summary>
/// Fans events out to subscribers. Publishers check <see cref="Enabled"/> before building an event, which keeps the
/// hot path free of allocations when nobody listens.
/// </summary>
public sealed class EventHub
{
    private Action<VirtioEvent>[] _subscribers = [];
    private Action<FaultEvent>[] _faultSubscribers = [];
    private long _sequence;

    /// <summary>Whether anyone listens.</summary>
    public bool Enabled { get; private set; }

    /// <summary>Adds a subscriber; dispose the result to remove it.</summary>
    public IDisposable Subscribe(Action<VirtioEvent> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _subscribers = [.. _subscribers, handler];
        Enabled = true;
        return new Subscription(this, handler);
    }

    /// <summary>Numbers the event and hands it to every subscriber.</summary>
    public void Publish(VirtioEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        e.Sequence = ++_sequence;
        foreach (Action<VirtioEvent> s in _subscribers)
        {
            s(e);
        }
    }

    /// <summary>Listens to faults only, without turning on the full stream (for warning logs).</summary>
    public void SubscribeFaults(Action<FaultEvent> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _faultSubscribers = [.. _faultSubscribers, handler];
    }

    /// <summary>Reports a fault to fault listeners and, when enabled, to the full stream.</summary>
    public void Fault(string message)
    {
        if (!Enabled && _faultSubscribers.Length == 0)
        {
            return;
        }
        var e = new FaultEvent(message);
        foreach (Action<FaultEvent> s in _faultSubscribers)
        {
            s(e);
        }
        if (Enabled)
        {
            Publish(e);
        }
    }

    private void Remove(Action<VirtioEvent> handler)
    {
        _subscribers = [.. _subscribers.Where(s => s != handler)];
        Enabled = _subscribers.Length > 0;
    }

    private sealed class Subscription(EventHub hub, Action<VirtioEvent> handler) : IDisposable
    {
        public void Dispose() => hub.Remove(handler);
    }
}
