using VirtioScope.Virtio.Events;
using VirtioScope.Block;
using VirtioScope.Guest.Rings;
using VirtioScope.Memory;
using VirtioScope.Virtio;

namespace VirtioScope.Guest;

/// <summary>
/// A virtio-blk driver that behaves like Linux's virtio_mmio + virtio_blk: the spec's initialisation sequence
/// (section 3.1.1), feature negotiation, config reads with the generation check, queue setup through the registers
/// (version 2, or the legacy version 1 layout detected from the Version register), rings and buffers in guest memory,
/// event idx and indirect descriptors when negotiated. It touches the device only through <see cref="IMmioDevice"/>
/// accesses and guest memory.
/// </summary>
/// <remarks>
/// Single-threaded, like one CPU running the driver: submit, kick and process completions from one thread. The
/// device may call <see cref="OnInterrupt"/> synchronously from inside a kick; that path only reaps and sets flags.
/// </remarks>
public sealed class VirtioBlkGuest : IDisposable
{
    /// <summary>Reads of Status after a reset before the driver gives up waiting for 0.</summary>
    public const int ResetPollLimit = 1000;

    private readonly IMmioDevice _mmio;
    private readonly GuestDriverOptions _options;
    private readonly GuestArena _arena;
    private readonly GuestAllocator _allocator;
    private BlkQueue[] _queues = [];
    private ulong _queuesEnd;
    private bool _queuesLive;
    private long _notificationsBefore;
    private long _suppressedBefore;

    /// <summary>
    /// Where the driver publishes its own events (requests made available, notifications sent or suppressed); usually
    /// the transport's hub, so one stream tells the guest's and the device's sides in order. Null: none.
    /// </summary>
    public EventHub? Events { get; set; }

    /// <summary>Creates the driver; nothing touches the device until <see cref="Initialize"/>.</summary>
    /// <param name="mmio">The device's register window.</param>
    /// <param name="memory">Guest memory (the driver's own view); it must outlive the driver.</param>
    /// <param name="options">Queue and feature choices.</param>
    public VirtioBlkGuest(IMmioDevice mmio, GuestMemory memory, GuestDriverOptions options)
    {
        ArgumentNullException.ThrowIfNull(mmio);
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _mmio = mmio;
        _options = options;
        ulong start = options.ArenaBase != 0 ? options.ArenaBase : memory.Regions[0].GuestBase;
        if (!memory.TryTranslate(start, out Span<byte> toEnd))
        {
            throw new ArgumentException($"driver arena base 0x{start:x} is not in guest memory", nameof(options));
        }
        ulong size = options.ArenaSize != 0 ? options.ArenaSize : (ulong)toEnd.Length;
        _arena = new GuestArena(memory, start, size);
        _allocator = new GuestAllocator(start, size);
    }

    /// <summary>The options the driver was created with.</summary>
    public GuestDriverOptions Options => _options;

    /// <summary>virtio-mmio Version register value (1 legacy, 2 modern).</summary>
    public int MmioVersion { get; private set; }

    /// <summary>Whether the device uses the legacy (version 1) register layout.</summary>
    public bool IsLegacy => MmioVersion == 1;

    /// <summary>The 64 feature bits the device offered.</summary>
    public ulong DeviceFeatures { get; private set; }

    /// <summary>The feature bits the driver accepted and the device agreed to.</summary>
    public ulong NegotiatedFeatures { get; private set; }

    /// <summary>The configuration space read at initialisation.</summary>
    public VirtioBlkConfig Config { get; private set; } = new();

    /// <summary>Request queues set up by <see cref="Initialize"/>.</summary>
    public IReadOnlyList<BlkQueue> Queues => _queues;

    /// <summary>Whether packed rings are in use.</summary>
    public bool UsesPacked => (NegotiatedFeatures & VirtioFeatures.RingPacked) != 0;

    /// <summary>Whether indirect descriptors are in use.</summary>
    public bool UsesIndirect => (NegotiatedFeatures & VirtioFeatures.RingIndirectDesc) != 0;

    /// <summary>Whether event idx is in use.</summary>
    public bool UsesEventIdx => (NegotiatedFeatures & VirtioFeatures.RingEventIdx) != 0;

    /// <summary>Whether the device is live (DRIVER_OK written and no reset since).</summary>
    public bool IsInitialized { get; private set; }

    /// <summary>
    /// Set when the device reported DEVICE_NEEDS_RESET (seen on a configuration-change interrupt) or broke the ring
    /// protocol; the owner should <see cref="Reset"/> and <see cref="Initialize"/> again.
    /// </summary>
    public bool NeedsReset { get; private set; }

    /// <summary>Why <see cref="NeedsReset"/> was set, for reports.</summary>
    public string? NeedsResetReason { get; private set; }

    /// <summary>Set by a configuration-change interrupt that did not ask for a reset; cleared by <see cref="RereadConfig"/>.</summary>
    public bool ConfigChanged { get; private set; }

    /// <summary>Calls of <see cref="OnInterrupt"/> that found InterruptStatus bits set.</summary>
    public long Interrupts { get; private set; }

    /// <summary>Calls of <see cref="OnInterrupt"/> that found InterruptStatus zero.</summary>
    public long SpuriousInterrupts { get; private set; }

    /// <summary>Configuration-change interrupts.</summary>
    public long ConfigInterrupts { get; private set; }

    /// <summary>Completed resets (including the one at each initialisation).</summary>
    public long Resets { get; private set; }

    /// <summary>Notifications written, all queues, since creation.</summary>
    public long Notifications => _notificationsBefore + Sum(static q => q.Notifications);

    /// <summary>Kicks suppressed by the device's event suppression, all queues, since creation.</summary>
    public long SuppressedNotifications => _suppressedBefore + Sum(static q => q.SuppressedNotifications);

    /// <summary>The allocator over the driver's arena (rings first, then request slots).</summary>
    public GuestAllocator Allocator => _allocator;

    /// <summary>
    /// Brings the device up: probe (MagicValue, Version, DeviceID), reset, ACKNOWLEDGE, DRIVER, feature negotiation,
    /// FEATURES_OK (version 2) and its check, configuration, queue setup, DRIVER_OK. Requests still in flight from an
    /// earlier initialisation complete as aborted.
    /// </summary>
    /// <exception cref="GuestDriverException">The device is not a usable virtio-blk device or refused the driver.</exception>
    public void Initialize()
    {
        Probe();
        ResetDevice();
        SetStatus(DeviceStatus.Acknowledge);
        SetStatus(DeviceStatus.Acknowledge | DeviceStatus.Driver);
        Negotiate();
        Config = BlkConfigReader.Read(_mmio, NegotiatedFeatures, useGeneration: !IsLegacy);
        ConfigChanged = false;
        SetUpQueues();
        SetStatus(DeviceStatus.Acknowledge | DeviceStatus.Driver | (IsLegacy ? 0 : DeviceStatus.FeaturesOk) | DeviceStatus.DriverOk);
        NeedsReset = false;
        NeedsResetReason = null;
        IsInitialized = true;
    }

    /// <summary>Resets the device (Status = 0, waiting for it to read back 0 on version 2); in-flight requests complete as aborted.</summary>
    public void Reset()
    {
        if (MmioVersion == 0)
        {
            Probe();
        }
        ResetDevice();
    }

    /// <summary>Resets and initialises again: what the driver does after DEVICE_NEEDS_RESET.</summary>
    public void Recover()
    {
        Reset();
        Initialize();
    }

    /// <summary>
    /// The device's interrupt line. Reads InterruptStatus, acknowledges it, notes configuration changes (and
    /// DEVICE_NEEDS_RESET) and reaps the used rings into each queue's completed list. It only reaps and sets flags, so
    /// it is safe to call from inside the driver's own QueueNotify write; completion handlers run later, from
    /// <see cref="ProcessCompletions"/>.
    /// </summary>
    public void OnInterrupt()
    {
        uint status = _mmio.Read(MmioRegisters.InterruptStatus, 4);
        if (status == 0)
        {
            SpuriousInterrupts++;
        }
        else
        {
            Interrupts++;
            _mmio.Write(MmioRegisters.InterruptAck, 4, status);
        }
        if ((status & MmioRegisters.InterruptConfigChange) != 0)
        {
            ConfigInterrupts++;
            var deviceStatus = (DeviceStatus)_mmio.Read(MmioRegisters.Status, 4);
            if ((deviceStatus & DeviceStatus.DeviceNeedsReset) != 0)
            {
                ReportFault("the device set DEVICE_NEEDS_RESET");
            }
            else
            {
                ConfigChanged = true;
            }
        }
        if (_queuesLive)
        {
            foreach (BlkQueue q in _queues)
            {
                q.ReapRing();
            }
        }
    }

    /// <summary>Re-reads the configuration space (after a configuration-change interrupt).</summary>
    public VirtioBlkConfig RereadConfig()
    {
        Config = BlkConfigReader.Read(_mmio, NegotiatedFeatures, useGeneration: !IsLegacy);
        ConfigChanged = false;
        return Config;
    }

    /// <summary>
    /// Switches the device's cache between writeback (true) and write-through by writing the writeback config field,
    /// as Linux does for the cache_type attribute; needs VIRTIO_BLK_F_CONFIG_WCE. Returns the mode read back.
    /// </summary>
    /// <exception cref="InvalidOperationException">CONFIG_WCE was not negotiated.</exception>
    public bool SetWriteback(bool writeback)
    {
        if ((NegotiatedFeatures & BlkFeatures.ConfigWce) == 0)
        {
            throw new InvalidOperationException("switching the cache mode needs VIRTIO_BLK_F_CONFIG_WCE, which was not negotiated");
        }
        _mmio.Write(MmioRegisters.Config + BlkConfigOffsets.Writeback, 1, writeback ? 1u : 0u);
        return RereadConfig().Writeback != 0;
    }

    /// <summary>Reads the Status register (to see DEVICE_NEEDS_RESET without an interrupt).</summary>
    public DeviceStatus ReadStatus() => (DeviceStatus)_mmio.Read(MmioRegisters.Status, 4);

    /// <summary>Kicks every queue with unannounced requests; returns the notifications written.</summary>
    public int KickAll()
    {
        int n = 0;
        foreach (BlkQueue q in _queues)
        {
            n += q.Kick() ? 1 : 0;
        }
        return n;
    }

    /// <summary>Processes completions on every queue; returns how many.</summary>
    public int ProcessCompletions(IBlkCompletionHandler? handler)
    {
        int n = 0;
        foreach (BlkQueue q in _queues)
        {
            n += q.ProcessCompletions(handler);
        }
        return n;
    }

    /// <summary>Requests outstanding on all queues.</summary>
    public int Outstanding
    {
        get
        {
            int n = 0;
            foreach (BlkQueue q in _queues)
            {
                n += q.Outstanding;
            }
            return n;
        }
    }

    /// <summary>Allocates scratch guest memory after the queues (freed by the next initialisation).</summary>
    public ulong AllocateScratch(ulong size, ulong alignment) => _allocator.Allocate(size, alignment);

    /// <summary>Guest-memory view of driver-allocated bytes (rings, slots, scratch).</summary>
    public Span<byte> ArenaSpan(ulong address, int length) => _arena.Span(address, length);

    internal GuestArena Arena => _arena;

    /// <summary>The queues as an array, so hot loops enumerate without an enumerator allocation.</summary>
    internal BlkQueue[] QueueArray => _queues;

    /// <summary>Whether the rings belong to a live device (false between a reset and DRIVER_OK).</summary>
    internal bool QueuesLive => _queuesLive;

    internal void ReportFault(string reason)
    {
        if (!NeedsReset)
        {
            NeedsReset = true;
            NeedsResetReason = reason;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (IsInitialized)
        {
            try
            {
                ResetDevice();
            }
            catch (GuestDriverException)
            {
                // Disposal must not throw; a device that never reads back 0 is left as it is.
            }
        }
    }

    private void Probe()
    {
        uint magic = _mmio.Read(MmioRegisters.MagicValue, 4);
        if (magic != MmioRegisters.Magic)
        {
            throw new GuestDriverException($"no virtio-mmio device: MagicValue reads 0x{magic:x8}, expected 0x{MmioRegisters.Magic:x8} (\"virt\")");
        }
        uint version = _mmio.Read(MmioRegisters.Version, 4);
        if (version is not (1 or 2))
        {
            throw new GuestDriverException($"unsupported virtio-mmio version {version} (the driver knows 1, legacy, and 2)");
        }
        uint deviceId = _mmio.Read(MmioRegisters.DeviceId, 4);
        if (deviceId == 0)
        {
            throw new GuestDriverException("no device behind this virtio-mmio window (DeviceID 0)");
        }
        if (deviceId != BlkLayout.DeviceId)
        {
            throw new GuestDriverException($"virtio device ID {deviceId} is not a block device (ID {BlkLayout.DeviceId})");
        }
        MmioVersion = (int)version;
    }

    private void ResetDevice()
    {
        _queuesLive = false;
        IsInitialized = false;
        _mmio.Write(MmioRegisters.Status, 4, 0);
        if (!IsLegacy)
        {
            int polls = 0;
            while (_mmio.Read(MmioRegisters.Status, 4) != 0)
            {
                if (++polls >= ResetPollLimit)
                {
                    throw new GuestDriverException($"the device did not complete its reset: Status still nonzero after {ResetPollLimit} reads");
                }
            }
        }
        foreach (BlkQueue q in _queues)
        {
            q.AbortInFlight();
        }
        Resets++;
    }

    private void SetStatus(DeviceStatus status) => _mmio.Write(MmioRegisters.Status, 4, (uint)status);

    private void Fail(string message)
    {
        uint current = _mmio.Read(MmioRegisters.Status, 4);
        _mmio.Write(MmioRegisters.Status, 4, current | (uint)DeviceStatus.Failed);
        throw new GuestDriverException(message);
    }

    private ulong DriverSupported()
    {
        ulong f = VirtioFeatures.Version1 | VirtioFeatures.AccessPlatform
            | BlkFeatures.SizeMax | BlkFeatures.SegMax | BlkFeatures.Geometry | BlkFeatures.ReadOnly | BlkFeatures.BlkSize
            | BlkFeatures.Flush | BlkFeatures.Topology | BlkFeatures.ConfigWce | BlkFeatures.Discard | BlkFeatures.WriteZeroes;
        if (_options.UseEventIdx)
        {
            f |= VirtioFeatures.RingEventIdx;
        }
        if (_options.UseIndirect)
        {
            f |= VirtioFeatures.RingIndirectDesc;
        }
        if (_options.UsePacked)
        {
            f |= VirtioFeatures.RingPacked;
        }
        if (_options.QueueCount > 1)
        {
            f |= BlkFeatures.Mq;
        }
        if (IsLegacy)
        {
            // The legacy interface predates VERSION_1 (and packed rings, which need separate ring addresses).
            f &= ~(VirtioFeatures.Version1 | VirtioFeatures.RingPacked | VirtioFeatures.AccessPlatform);
        }
        return f;
    }

    private void Negotiate()
    {
        _mmio.Write(MmioRegisters.DeviceFeaturesSel, 4, 0);
        ulong offered = _mmio.Read(MmioRegisters.DeviceFeatures, 4);
        _mmio.Write(MmioRegisters.DeviceFeaturesSel, 4, 1);
        offered |= (ulong)_mmio.Read(MmioRegisters.DeviceFeatures, 4) << 32;
        DeviceFeatures = offered;
        if (!IsLegacy && (offered & VirtioFeatures.Version1) == 0)
        {
            Fail($"the device offers features 0x{offered:x16} without VIRTIO_F_VERSION_1, which virtio-mmio version 2 requires");
        }
        if (_options.UsePacked && IsLegacy)
        {
            Fail("packed virtqueues need virtio-mmio version 2; the device is legacy (version 1)");
        }
        if (_options.UsePacked && (offered & VirtioFeatures.RingPacked & _options.FeatureMask) == 0)
        {
            Fail($"packed virtqueues were asked for, but VIRTIO_F_RING_PACKED is not offered (device features 0x{offered:x16}) or masked off");
        }
        ulong accepted = offered & DriverSupported() & _options.FeatureMask;
        if ((accepted & BlkFeatures.Flush) == 0)
        {
            // A switchable writeback cache is no use without FLUSH to make it durable; devices may refuse the pair.
            accepted &= ~BlkFeatures.ConfigWce;
        }
        _mmio.Write(MmioRegisters.DriverFeaturesSel, 4, 0);
        _mmio.Write(MmioRegisters.DriverFeatures, 4, (uint)accepted);
        _mmio.Write(MmioRegisters.DriverFeaturesSel, 4, 1);
        _mmio.Write(MmioRegisters.DriverFeatures, 4, (uint)(accepted >> 32));
        NegotiatedFeatures = accepted;
        if (!IsLegacy)
        {
            SetStatus(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk);
            var status = (DeviceStatus)_mmio.Read(MmioRegisters.Status, 4);
            if ((status & DeviceStatus.FeaturesOk) == 0)
            {
                Fail($"the device refused FEATURES_OK for features 0x{accepted:x16} (offered 0x{offered:x16})");
            }
        }
    }

    private void SetUpQueues()
    {
        int count = 1;
        if (_options.QueueCount > 1 && (NegotiatedFeatures & BlkFeatures.Mq) != 0)
        {
            count = Math.Clamp((int)Config.NumQueues, 1, _options.QueueCount);
        }
        int[] sizes = new int[count];
        if (IsLegacy)
        {
            _mmio.Write(MmioRegisters.GuestPageSize, 4, SplitVirtqueue.LegacyAlign);
        }
        for (int q = 0; q < count; q++)
        {
            _mmio.Write(MmioRegisters.QueueSel, 4, (uint)q);
            uint live = _mmio.Read(IsLegacy ? (ulong)MmioRegisters.QueuePfn : MmioRegisters.QueueReady, 4);
            if (live != 0)
            {
                Fail($"queue {q} is already live after reset ({(IsLegacy ? "QueuePFN" : "QueueReady")} = {live})");
            }
            uint max = _mmio.Read(MmioRegisters.QueueNumMax, 4);
            if (max == 0)
            {
                Fail($"the device has no queue {q} (QueueNumMax 0)");
            }
            int size = (int)Math.Min((uint)_options.QueueSize, Math.Min(max, 32768u));
            if (!UsesPacked)
            {
                // Split rings need a power of two: round a device maximum that is not one down.
                size = 1 << (31 - int.LeadingZeroCount(size));
            }
            sizes[q] = size;
        }
        if (!CanReuseQueues(sizes))
        {
            try
            {
                CreateQueues(sizes);
            }
            catch (GuestDriverException e)
            {
                // Out of guest memory for rings or buffers: tell the device the driver gave up (section 3.1.1).
                Fail($"{e.Message} (rings and {_options.QueueDepth} request buffers of {_options.MaxRequestBytes} bytes for each of {sizes.Length} queues)");
            }
        }
        for (int q = 0; q < count; q++)
        {
            BlkQueue queue = _queues[q];
            // Slots survive: requests aborted by the reset wait in the completed list for the caller.
            queue.Ring.Clear();
            ProgramQueue(queue.Ring);
        }
        _queuesLive = true;
    }

    private bool CanReuseQueues(int[] sizes)
    {
        if (_queues.Length != sizes.Length || _queues.Length == 0)
        {
            return false;
        }
        for (int q = 0; q < sizes.Length; q++)
        {
            BlkQueue queue = _queues[q];
            bool packed = queue.Ring is PackedVirtqueue;
            bool legacyLayout = queue.Ring is SplitVirtqueue { TotalBytes: > 0 };
            if (queue.Size != sizes[q] || packed != UsesPacked || legacyLayout != IsLegacy || queue.Ring.EventIdx != UsesEventIdx)
            {
                return false;
            }
        }
        // Scratch allocations made after the queues are given back.
        _allocator.Reset();
        _allocator.Allocate(_queuesEnd - _allocator.Start, 1);
        return true;
    }

    private void CreateQueues(int[] sizes)
    {
        if (_queues.Length > 0)
        {
            _notificationsBefore = Notifications;
            _suppressedBefore = SuppressedNotifications;
        }
        _allocator.Reset();
        int segment = _options.SegmentBytes > 0 ? _options.SegmentBytes : _options.MaxRequestBytes;
        if ((NegotiatedFeatures & BlkFeatures.SizeMax) != 0 && Config.SizeMax != 0)
        {
            segment = (int)Math.Min((uint)segment, Config.SizeMax);
        }
        var queues = new BlkQueue[sizes.Length];
        for (int q = 0; q < sizes.Length; q++)
        {
            Virtqueue ring = UsesPacked
                ? new PackedVirtqueue(_arena, _allocator, q, sizes[q], UsesEventIdx, Math.Min(_options.QueueDepth, sizes[q]))
                : new SplitVirtqueue(_arena, _allocator, q, sizes[q], UsesEventIdx, IsLegacy);
            queues[q] = new BlkQueue(this, _mmio, _arena, _allocator, ring, Math.Min(_options.QueueDepth, sizes[q]), _options.MaxRequestBytes, segment);
        }
        _queues = queues;
        _queuesEnd = _allocator.Start + _allocator.Used;
    }

    private void ProgramQueue(Virtqueue ring)
    {
        _mmio.Write(MmioRegisters.QueueSel, 4, (uint)ring.Index);
        _mmio.Write(MmioRegisters.QueueNum, 4, (uint)ring.Size);
        if (IsLegacy)
        {
            _mmio.Write(MmioRegisters.QueueAlign, 4, SplitVirtqueue.LegacyAlign);
            _mmio.Write(MmioRegisters.QueuePfn, 4, (uint)(ring.DescAddr / SplitVirtqueue.LegacyAlign));
            return;
        }
        _mmio.Write(MmioRegisters.QueueDescLow, 4, (uint)ring.DescAddr);
        _mmio.Write(MmioRegisters.QueueDescHigh, 4, (uint)(ring.DescAddr >> 32));
        _mmio.Write(MmioRegisters.QueueDriverLow, 4, (uint)ring.DriverAddr);
        _mmio.Write(MmioRegisters.QueueDriverHigh, 4, (uint)(ring.DriverAddr >> 32));
        _mmio.Write(MmioRegisters.QueueDeviceLow, 4, (uint)ring.DeviceAddr);
        _mmio.Write(MmioRegisters.QueueDeviceHigh, 4, (uint)(ring.DeviceAddr >> 32));
        _mmio.Write(MmioRegisters.QueueReady, 4, 1);
    }

    private long Sum(Func<BlkQueue, long> selector)
    {
        long n = 0;
        foreach (BlkQueue q in _queues)
        {
            n += selector(q);
        }
        return n;
    }
}
