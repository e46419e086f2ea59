using VirtioScope.Memory;
using VirtioScope.VhostUser.Protocol;
using VirtioScope.Virtio.Queues;

namespace VirtioScope.VhostUser;

/// <summary>A memory region the front-end shared: guest-physical base, size, its own virtual address, offset in the fd.</summary>
/// <param name="GuestPhysAddr">Guest-physical base.</param>
/// <param name="Size">Bytes.</param>
/// <param name="UserAddr">The front-end's virtual address of the region (what ring addresses are given in).</param>
/// <param name="MmapOffset">Offset of the region in the file descriptor.</param>
public sealed record MemoryRegionState(ulong GuestPhysAddr, ulong Size, ulong UserAddr, ulong MmapOffset);

/// <summary>What the front-end set up for one ring, and where the live queue stands.</summary>
public sealed record VringState
{
    /// <summary>Ring index.</summary>
    public required int Index { get; init; }

    /// <summary>SET_VRING_NUM (0 before it).</summary>
    public required ushort Size { get; init; }

    /// <summary>SET_VRING_ADDR descriptor table, avail (driver) and used (device) areas, front-end virtual addresses.</summary>
    public VringAddresses? Addresses { get; init; }

    /// <summary>SET_VRING_ENABLE.</summary>
    public required bool Enabled { get; init; }

    /// <summary>A kick eventfd was given.</summary>
    public required bool HasKick { get; init; }

    /// <summary>The worker is serving the ring.</summary>
    public required bool Started { get; init; }

    /// <summary>Last base set or reported (SET/GET_VRING_BASE encoding).</summary>
    public required uint Base { get; init; }

    /// <summary>The live queue's layout in guest-physical addresses, while started.</summary>
    public QueueLayout? Layout { get; init; }

    /// <summary>The device's next avail slot (its last avail index), while started.</summary>
    public ushort? LastAvail { get; init; }

    /// <summary>The device's next used slot, while started.</summary>
    public ushort? NextUsed { get; init; }

    /// <summary>Split rings: the driver's avail idx as guest memory holds it now.</summary>
    public ushort? AvailIdx { get; init; }

    /// <summary>Split rings: the used idx as guest memory holds it now.</summary>
    public ushort? UsedIdx { get; init; }

    /// <summary>Packed rings: the device's avail and used wrap counters.</summary>
    public (bool Avail, bool Used)? Wrap { get; init; }

    /// <summary>Queue error, if the ring broke.</summary>
    public string? Error { get; init; }
}

/// <summary>The negotiation state a debugger shows in place of MMIO registers.</summary>
public sealed record NegotiationState
{
    /// <summary>A front-end has negotiated features (SET_FEATURES).</summary>
    public required bool FeaturesSet { get; init; }

    /// <summary>Features offered by GET_FEATURES.</summary>
    public required ulong OfferedFeatures { get; init; }

    /// <summary>Virtio features accepted (the vhost-user protocol-features bit left out).</summary>
    public required ulong Features { get; init; }

    /// <summary>Protocol features offered.</summary>
    public required ulong OfferedProtocolFeatures { get; init; }

    /// <summary>Protocol features accepted.</summary>
    public required ulong ProtocolFeatures { get; init; }

    /// <summary>The memory table.</summary>
    public required IReadOnlyList<MemoryRegionState> Regions { get; init; }

    /// <summary>Every ring the device has.</summary>
    public required IReadOnlyList<VringState> Rings { get; init; }
}

public sealed partial class VhostUserBlkBackend
{
    /// <summary>
    /// A consistent look at the negotiation and the rings, taken between messages so nothing is half set up or
    /// unmapped while it is read. The ring indexes come from guest memory as it is at this moment.
    /// </summary>
    public NegotiationState Inspect()
    {
        lock (_stateLock)
        {
            GuestMemory? memory = _memory.Memory;
            var rings = new VringState[_vrings.Length];
            for (int i = 0; i < rings.Length; i++)
            {
                rings[i] = RingState(_vrings[i], memory);
            }
            return new NegotiationState
            {
                FeaturesSet = _featuresSet,
                OfferedFeatures = OfferedFeatures,
                Features = NegotiatedFeatures,
                OfferedProtocolFeatures = ProtocolFeatures.Supported,
                ProtocolFeatures = _protocolFeatures,
                Regions = [.. _memory.Regions.Select(r => new MemoryRegionState(r.Descriptor.GuestPhysAddr, r.Descriptor.Size, r.Descriptor.UserAddr, r.Descriptor.MmapOffset))],
                Rings = rings,
            };
        }
    }

    /// <summary>Makes every started ring look at its avail ring again (a debugger's gate opened on requests that are already waiting).</summary>
    public void WakeRings()
    {
        lock (_stateLock)
        {
            foreach (Vring v in _vrings)
            {
                v.Worker?.Wake();
            }
        }
    }

    private static VringState RingState(Vring v, GuestMemory? memory)
    {
        VirtQueue? q = v.Queue;
        var state = new VringState
        {
            Index = v.Index, Size = v.Size, Addresses = v.Addresses, Enabled = v.Enabled, HasKick = v.KickFd >= 0, Started = v.Started, Base = v.Base,
        };
        if (q is null || memory is null)
        {
            return state;
        }
        RingPosition p = q.Position;
        QueueLayout l = q.Layout;
        bool split = l.Format == RingFormat.Split;
        return state with
        {
            Layout = l,
            LastAvail = q.NextAvail,
            NextUsed = q.NextUsed,
            AvailIdx = split && memory.TryRead(l.DriverArea + 2, stackalloc byte[2]) is null ? memory.ReadU16(l.DriverArea + 2) : null,
            UsedIdx = split && memory.TryRead(l.DeviceArea + 2, stackalloc byte[2]) is null ? memory.ReadU16(l.DeviceArea + 2) : null,
            Wrap = split ? null : (p.AvailWrap, p.UsedWrap),
            Error = q.Error == QueueError.None ? null : q.Error.ToString(),
        };
    }
}
