using VirtioScope.Memory;
using VirtioScope.Virtio;
using VirtioScope.Virtio.Events;
using VirtioScope.Virtio.Queues;

namespace VirtioScope.Block;

/// <summary>
/// A virtio-blk device (VirtIO 1.2 section 5.2) over an <see cref="IBlockBackend"/>. It knows nothing of transports,
/// files or formats: a transport hands it queues and guest memory, the backend stores the bytes.
/// </summary>
public sealed class BlockDevice : IVirtioDevice
{
    private readonly IBlockBackend _backend;
    private readonly BlockDeviceOptions _options;
    private readonly BlkConfigSpace _config;
    private readonly RequestParser _parser;
    private readonly RequestExecutor _executor;
    private readonly DescriptorChain[] _chains;
    private readonly BlkRequest[] _requests;
    private IDeviceContext? _context;

    /// <summary>Creates the device; throws <see cref="ArgumentException"/> for options it cannot honour.</summary>
    public BlockDevice(IBlockBackend backend, BlockDeviceOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        _options = options ?? new BlockDeviceOptions();
        _options.Validate();
        _backend = backend;
        Statistics = new BlockStatistics(_options.NumQueues);
        OfferedFeatures = _options.Features | (backend.IsReadOnly ? BlkFeatures.ReadOnly : 0);
        if (_options.NumQueues == 1)
        {
            OfferedFeatures &= ~BlkFeatures.Mq;
        }
        if ((OfferedFeatures & BlkFeatures.Flush) == 0)
        {
            // A switchable write cache is only safe with FLUSH, which RefuseFeatures insists on: never offer one without it.
            OfferedFeatures &= ~BlkFeatures.ConfigWce;
        }
        _config = new BlkConfigSpace(_options, backend.Size);
        _parser = new RequestParser(_config) { ReadOnly = IsReadOnly };
        _executor = new RequestExecutor(backend, _parser, _config, Statistics, _options.Serial);
        // Per-queue scratch, so a request never allocates (chains are bounded by the queue size) and queues may be
        // processed on separate threads, as a vhost-user backend does.
        _chains = new DescriptorChain[_options.NumQueues];
        _requests = new BlkRequest[_options.NumQueues];
        for (int i = 0; i < _options.NumQueues; i++)
        {
            _chains[i] = new DescriptorChain(_options.MaxQueueSize);
            _requests[i] = new BlkRequest(_options.MaxQueueSize, (int)Math.Max(_options.MaxDiscardSegments, _options.MaxWriteZeroesSegments));
        }
    }

    /// <inheritdoc />
    public uint DeviceId => BlkLayout.DeviceId;

    /// <inheritdoc />
    public ulong OfferedFeatures { get; }

    /// <inheritdoc />
    public int QueueCount => _options.NumQueues;

    /// <inheritdoc />
    public ushort MaxQueueSize => _options.MaxQueueSize;

    /// <inheritdoc />
    public int ConfigLength => BlkConfigOffsets.Length;

    /// <summary>Whether the device refuses writes (the backend is read-only, or RO is offered).</summary>
    public bool IsReadOnly => _backend.IsReadOnly || (_options.Features & BlkFeatures.ReadOnly) != 0;

    /// <summary>What the device has done.</summary>
    public BlockStatistics Statistics { get; }

    /// <summary>The configuration space as the driver sees it.</summary>
    public ReadOnlySpan<byte> ConfigBytes => _config.Bytes;

    /// <summary>Asked before each request is taken (null: always take); set by a debugger attached to a live device.</summary>
    public IRequestGate? Gate { get; set; }

    /// <summary>Whether completed writes are flushed before completion.</summary>
    public bool WriteThrough => _executor.WriteThrough;

    /// <inheritdoc />
    public void ReadConfig(int offset, Span<byte> data) => _config.Bytes.Slice(offset, data.Length).CopyTo(data);

    /// <inheritdoc />
    public void WriteConfig(int offset, ReadOnlySpan<byte> data)
    {
        // Only writeback is writable, and only with CONFIG_WCE (spec 5.2.5).
        bool wce = _context is not null && (_context.NegotiatedFeatures & BlkFeatures.ConfigWce) != 0;
        if (offset == BlkConfigOffsets.Writeback && data.Length == 1 && wce && data[0] <= 1)
        {
            _config.Writeback = data[0] == 1;
            UpdateCacheMode();
            return;
        }
        _context?.Events.Fault($"write to read-only virtio-blk config at offset {offset} ignored");
    }

    /// <inheritdoc />
    public string? RefuseFeatures(ulong features)
    {
        if ((features & BlkFeatures.ConfigWce) != 0 && (features & BlkFeatures.Flush) == 0)
        {
            return "VIRTIO_BLK_F_CONFIG_WCE needs VIRTIO_BLK_F_FLUSH: a writeback cache without flush cannot be made durable";
        }
        return null;
    }

    /// <inheritdoc />
    public void Activate(IDeviceContext context)
    {
        _context = context;
        _parser.Features = context.NegotiatedFeatures;
        UpdateCacheMode();
    }

    private void UpdateCacheMode()
    {
        // Without FLUSH the driver cannot ask for durability, so every write must be durable on completion (5.2.6.2).
        bool flush = _context is not null && (_context.NegotiatedFeatures & BlkFeatures.Flush) != 0;
        _executor.WriteThrough = !flush || !_config.Writeback;
    }

    /// <inheritdoc />
    public void Reset()
    {
        _context = null;
        _config.Writeback = _options.WriteCache == WriteCacheMode.WriteBack;
    }

    /// <inheritdoc />
    public void ProcessQueue(int index)
    {
        IDeviceContext? ctx = _context;
        VirtQueue? queue = ctx?.Queue(index);
        if (ctx is null || queue is null)
        {
            return;
        }
        GuestMemory memory = ctx.Memory;
        DescriptorChain chain = _chains[index];
        BlkRequest request = _requests[index];
        int completed = 0;
        do
        {
            queue.DisableNotification(memory);
            while (true)
            {
                if (Gate is { } gate && !gate.MayTake(index, queue, memory))
                {
                    // Held: re-arm notifications so a request published from now on still wakes this queue, then look
                    // once more, for a request published while they were off that the gate would now let through.
                    if (!queue.EnableNotification(memory) || !gate.MayTake(index, queue, memory))
                    {
                        if (completed > 0)
                        {
                            ctx.SignalUsed(index);
                        }
                        return;
                    }
                    queue.DisableNotification(memory);
                }
                if (!queue.TryPop(memory, chain))
                {
                    break;
                }
                Complete(ctx, index, queue, chain, request);
                completed++;
            }
            if (queue.Error != QueueError.None)
            {
                ctx.RequestReset($"queue {index}: {queue.Error} (next avail {queue.NextAvail}, next used {queue.NextUsed})");
                return;
            }
        }
        while (queue.EnableNotification(memory));
        if (completed > 0)
        {
            ctx.SignalUsed(index);
        }
    }

    private void Complete(IDeviceContext ctx, int index, VirtQueue queue, DescriptorChain chain, BlkRequest request)
    {
        GuestMemory memory = ctx.Memory;
        EventHub events = ctx.Events;
        if (events.Enabled)
        {
            events.Publish(new ChainPoppedEvent(index, chain.Id, chain.RingSlots, chain.Descriptors.ToArray(), chain.Error));
        }
        _parser.Parse(memory, chain, request);
        _executor.Observer?.RequestParsed(index, chain.Id, request.Type, request.Sector, (uint)request.DataBytes, request.SegmentCount, request.Rejection);
        if (events.Enabled)
        {
            events.Publish(new RequestParsedEvent(index, chain.Id, request.Type.ToString(), request.Sector, (uint)request.DataBytes,
                request.SegmentCount, request.Rejection == RequestRejection.None ? null : request.Rejection.ToString()));
        }
        uint written = 0;
        BlkStatus status;
        if (request.Rejection != RequestRejection.None)
        {
            status = request.RejectionStatus;
            if (request.Rejection != RequestRejection.NoStatusByte)
            {
                events.Fault($"queue {index}: request {chain.Id} ({request.Type}) rejected: {request.Rejection}");
            }
        }
        else
        {
            status = _executor.Execute(memory, request, index, events, out written);
        }
        uint used = 0;
        if (request.HasStatus)
        {
            memory.TryWrite(request.StatusAddress, [(byte)status]);
            // Used length counts every byte the device wrote: data plus the status byte (2.7.8.2).
            used = written + 1;
            Statistics.Queue(index).Count(status);
        }
        else
        {
            Statistics.Queue(index).NoStatus++;
        }
        Statistics.Queue(index).Requests++;
        queue.AddUsed(memory, chain, used);
        _executor.Observer?.RequestCompleted(index, chain.Id, (byte)status, used);
        if (events.Enabled)
        {
            events.Publish(new CompletionEvent(index, chain.Id, (byte)status, used));
        }
    }

    /// <summary>Sees every request parsed and completed (a recorder), or null.</summary>
    public IBlockRequestObserver? RequestObserver
    {
        get => _executor.Observer;
        set => _executor.Observer = value;
    }

    /// <summary>Guest memory used by the active device, if any (for tools).</summary>
    public GuestMemory? Memory => _context?.Memory;
}
