using Serilog;
using VirtioScope.Block;
using VirtioScope.Memory;
using VirtioScope.VhostUser.Protocol;
using VirtioScope.Virtio;
using VirtioScope.Virtio.Events;
using VirtioScope.Virtio.Queues;

namespace VirtioScope.VhostUser;

/// <summary>
/// The vhost-user-blk back-end state machine: negotiated features, the front-end's memory and the rings, with the
/// shared <see cref="BlockDevice"/> doing the virtio-blk work on each ring's own thread. It is the device's transport
/// (<see cref="IDeviceContext"/>) in place of MMIO. One front-end at a time; <see cref="Disconnect"/> forgets
/// everything it set up, so the next connection starts clean against the same device and image.
/// </summary>
public sealed partial class VhostUserBlkBackend : IDeviceContext, IDisposable
{
    private readonly ILogger _logger;
    private readonly MemoryTable _memory = new();
    private readonly Vring[] _vrings;
    private readonly Lock _stateLock = new();
    private ulong _features;
    private ulong _protocolFeatures;
    private bool _featuresSet;

    /// <summary>Creates the back-end over a block backend; the caller keeps ownership of <paramref name="backend"/>.</summary>
    public VhostUserBlkBackend(IBlockBackend backend, BlockDeviceOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        Device = new BlockDevice(backend, options);
        _logger = logger;
        _vrings = new Vring[options.NumQueues];
        for (int i = 0; i < _vrings.Length; i++)
        {
            _vrings[i] = new Vring(i);
        }
        Events.SubscribeFaults(f => _logger.Warning("Device fault: {Message}", f.Message));
    }

    /// <summary>The virtio-blk device the rings feed.</summary>
    public BlockDevice Device { get; }

    /// <summary>
    /// Features offered to the front-end: the device's own, less RING_RESET (vhost-user has no per-ring reset),
    /// plus the vhost-user protocol-features bit.
    /// </summary>
    public ulong OfferedFeatures => (Device.OfferedFeatures & ~VirtioFeatures.RingReset) | VhostUserWire.ProtocolFeaturesBit;

    /// <inheritdoc />
    public ulong NegotiatedFeatures => _features & ~VhostUserWire.ProtocolFeaturesBit;

    /// <summary>Protocol features the front-end accepted.</summary>
    public ulong NegotiatedProtocolFeatures => _protocolFeatures;

    /// <inheritdoc />
    public GuestMemory Memory => _memory.Memory ?? throw new InvalidOperationException("no memory table");

    /// <inheritdoc />
    public EventHub Events { get; } = new();

    /// <summary>Number of rings currently started.</summary>
    public int StartedRings => _vrings.Count(v => v.Started);

    /// <summary>The front-end's memory regions (guest-physical base and size).</summary>
    public IEnumerable<(ulong GuestBase, ulong Size)> MemoryRegions => _memory.Regions.Select(r => (r.Descriptor.GuestPhysAddr, r.Descriptor.Size));

    private bool Packed => (NegotiatedFeatures & VirtioFeatures.RingPacked) != 0;

    private bool ReplyAck => (_protocolFeatures & ProtocolFeatures.ReplyAck) != 0;

    /// <inheritdoc />
    public VirtQueue? Queue(int index) => (uint)index < (uint)_vrings.Length ? _vrings[index].Queue : null;

    /// <inheritdoc />
    public void SignalUsed(int queue)
    {
        Vring v = _vrings[queue];
        if (v.Queue is { } q && _memory.Memory is { } memory && q.NeedsInterrupt(memory))
        {
            v.Call();
        }
    }

    /// <inheritdoc />
    public void RequestReset(string reason)
    {
        // vhost-user has no DEVICE_NEEDS_RESET path without the status protocol feature: report the broken ring on its
        // error eventfd; the queue itself stays stopped (it takes nothing more) until the front-end restarts it.
        _logger.Error("Ring broken: {Reason}", reason);
        foreach (Vring v in _vrings)
        {
            if (v.Queue is { Error: not QueueError.None })
            {
                v.SignalError();
            }
        }
    }

    /// <summary>Stops every ring and forgets the front-end: memory, features and ring state.</summary>
    public void Disconnect()
    {
        lock (_stateLock)
        {
            DisconnectLocked();
        }
    }

    private void DisconnectLocked()
    {
        StopAll();
        for (int i = 0; i < _vrings.Length; i++)
        {
            _vrings[i].Dispose();
            _vrings[i] = new Vring(i);
        }
        _memory.Clear();
        _features = 0;
        _protocolFeatures = 0;
        _featuresSet = false;
        Device.Reset();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Disconnect();
        foreach (Vring v in _vrings)
        {
            v.Dispose();
        }
        _memory.Dispose();
    }

    private bool[] StopAll()
    {
        bool[] started = new bool[_vrings.Length];
        for (int i = 0; i < _vrings.Length; i++)
        {
            started[i] = _vrings[i].Started;
            _vrings[i].Stop(Packed);
        }
        return started;
    }

    private string? RestartAll(bool[] started)
    {
        string? first = null;
        for (int i = 0; i < _vrings.Length; i++)
        {
            if (started[i])
            {
                first ??= TryStart(_vrings[i]);
            }
        }
        return first;
    }

    private bool IsEnabled(Vring v) => v.Enabled || (_features & VhostUserWire.ProtocolFeaturesBit) == 0;

    /// <summary>Starts a ring once it has everything: size, addresses, a kick fd, memory, features, and is enabled.</summary>
    private string? TryStart(Vring v)
    {
        if (v.Started || !_featuresSet || v.Size == 0 || v.Addresses is null || v.KickFd < 0 || !IsEnabled(v) || _memory.Memory is null)
        {
            return null;
        }
        GuestMemory memory = _memory.Memory;
        bool packed = Packed;
        VringAddresses a = v.Addresses.Value;
        ulong descBytes = 16UL * v.Size;
        ulong driverBytes = packed ? 4 : 6UL + 2UL * v.Size;
        ulong deviceBytes = packed ? 4 : 6UL + 8UL * v.Size;
        if (!_memory.TryTranslateUser(a.Descriptor, descBytes, out ulong desc) || !_memory.TryTranslateUser(a.Available, driverBytes, out ulong driver)
            || !_memory.TryTranslateUser(a.Used, deviceBytes, out ulong device))
        {
            return $"ring {v.Index}: addresses desc 0x{a.Descriptor:x}, avail 0x{a.Available:x}, used 0x{a.Used:x} are not inside the memory table";
        }
        var layout = new QueueLayout(packed ? RingFormat.Packed : RingFormat.Split, v.Size, desc, driver, device);
        QueueError error = layout.Validate(memory, Device.MaxQueueSize);
        if (error != QueueError.None)
        {
            return $"ring {v.Index} cannot be used: {error} (size {v.Size})";
        }
        ulong f = NegotiatedFeatures;
        VirtQueue queue = VirtQueue.Create(layout, eventIdx: (f & VirtioFeatures.RingEventIdx) != 0, indirect: (f & VirtioFeatures.RingIndirectDesc) != 0);
        RingPosition position = VringBase.Decode(v.Base, packed);
        if (!packed)
        {
            // The back-end completes requests in order, so everything between the guest's used index and the saved
            // avail index was in flight when a previous back-end stopped: take it again rather than lose it.
            ushort usedIdx = memory.ReadU16(device + 2);
            if (usedIdx != position.NextAvail)
            {
                _logger.Warning("Ring {Index}: resubmitting {Count} requests in flight at the last stop (used {Used}, avail {Avail})",
                    v.Index, (ushort)(position.NextAvail - usedIdx), usedIdx, position.NextAvail);
            }
            position = position with { NextAvail = usedIdx, NextUsed = usedIdx };
        }
        queue.Restore(position);
        if (queue.Error != QueueError.None)
        {
            return $"ring {v.Index}: base 0x{v.Base:x} is outside a ring of {v.Size}";
        }
        v.Queue = queue;
        int index = v.Index;
        v.Worker = new QueueWorker(index, v.KickFd, () => Process(index), reason => _logger.Error("Ring {Index}: {Reason}", index, reason));
        _logger.Debug("Ring {Index} started: {Format}, size {Size}, position {Position}", index, layout.Format, v.Size, position);
        return null;
    }

    private void Process(int index)
    {
        try
        {
            Device.ProcessQueue(index);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A device bug must not take the server down with it: the ring is reported broken instead.
            _logger.Error(e, "Ring {Index}: processing failed", index);
            _vrings[index].SignalError();
        }
    }
}
