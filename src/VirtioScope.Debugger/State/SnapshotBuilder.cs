using System.Buffers.Binary;
using VirtioScope.Block;
using VirtioScope.Debugger.Execution;
using VirtioScope.Memory;
using VirtioScope.Virtio;
using VirtioScope.Virtio.Queues;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Debugger;

/// <summary>Reads the device's state without touching its registers (no events, no side effects).</summary>
internal static class SnapshotBuilder
{
    public static DeviceSnapshot Capture(Machine m, DeviceSnapshot? previous)
    {
        MmioTransport t = m.Transport;
        List<RegisterRow> registers = Registers(m);
        List<RegisterRow> config = ConfigFields(m.Device.ConfigBytes);
        var queues = new List<QueueSnapshot>(t.QueueCount);
        for (int i = 0; i < t.QueueCount; i++)
        {
            queues.Add(Queue(t.GetQueueInfo(i), m.Memory));
        }
        var changed = new List<string>();
        if (previous is not null)
        {
            AddChanged(changed, previous.Registers, registers);
            AddChanged(changed, previous.Config, config);
        }
        return new DeviceSnapshot
        {
            Position = m.Position,
            Completions = m.Completions,
            Events = m.EventCount,
            Status = Decode.Status((byte)t.Status),
            Registers = registers,
            Config = config,
            Queues = queues,
            Changed = changed,
        };
    }

    private static void AddChanged(List<string> changed, IReadOnlyList<RegisterRow> before, List<RegisterRow> after)
    {
        var old = before.ToDictionary(r => r.Name, r => r.Value);
        foreach (RegisterRow r in after)
        {
            if (!old.TryGetValue(r.Name, out ulong v) || v != r.Value)
            {
                changed.Add(r.Name);
            }
        }
    }

    private static List<RegisterRow> Registers(Machine m)
    {
        MmioTransport t = m.Transport;
        bool legacy = t.Options.Version == MmioVersion.Legacy;
        var rows = new List<RegisterRow>
        {
            new("MagicValue", MmioRegisters.MagicValue, MmioRegisters.Magic, "\"virt\""),
            new("Version", MmioRegisters.Version, (ulong)t.Options.Version, legacy ? "legacy" : "virtio 1.x"),
            new("DeviceID", MmioRegisters.DeviceId, m.Device.DeviceId, "block"),
            new("VendorID", MmioRegisters.VendorId, t.Options.VendorId, ""),
            new("DeviceFeatures", MmioRegisters.DeviceFeatures, t.OfferedFeatures, Decode.Features(t.OfferedFeatures)),
            new("DriverFeatures", MmioRegisters.DriverFeatures, t.DriverFeatures, Decode.Features(t.DriverFeatures)),
            new("Negotiated", MmioRegisters.DriverFeatures, t.NegotiatedFeatures, Decode.Features(t.NegotiatedFeatures)),
            new("QueueSel", MmioRegisters.QueueSel, t.QueueSelect, ""),
            new("InterruptStatus", MmioRegisters.InterruptStatus, t.InterruptStatus, InterruptBits(t.InterruptStatus)),
            new("Status", MmioRegisters.Status, (ulong)t.Status, Decode.Status((byte)t.Status)),
        };
        if (!legacy)
        {
            rows.Add(new("ConfigGeneration", MmioRegisters.ConfigGeneration, t.ConfigGeneration, ""));
        }
        // Write-only registers have no read-back; show what the driver last wrote.
        int[] writeOnly = legacy
            ? [MmioRegisters.DeviceFeaturesSel, MmioRegisters.DriverFeaturesSel, MmioRegisters.GuestPageSize, MmioRegisters.QueueAlign, MmioRegisters.QueueNotify, MmioRegisters.InterruptAck]
            : [MmioRegisters.DeviceFeaturesSel, MmioRegisters.DriverFeaturesSel, MmioRegisters.QueueNotify, MmioRegisters.InterruptAck];
        foreach (int offset in writeOnly)
        {
            uint? v = m.LastWritten(offset);
            rows.Add(new(MmioRegisters.Name(offset), offset, v ?? 0, v is null ? "never written" : "last written"));
        }
        if (t.QueueSelect < t.QueueCount)
        {
            QueueInfo q = t.GetQueueInfo((int)t.QueueSelect);
            rows.Add(new("QueueNumMax", MmioRegisters.QueueNumMax, q.NumMax, ""));
            rows.Add(new("QueueNum", MmioRegisters.QueueNum, q.Num, ""));
            if (legacy)
            {
                rows.Add(new("QueuePFN", MmioRegisters.QueuePfn, q.Pfn, q.Pfn == 0 ? "not set" : $"page 0x{q.Pfn:x}"));
            }
            else
            {
                rows.Add(new("QueueReady", MmioRegisters.QueueReady, q.Ready ? 1UL : 0UL, q.Ready ? "ready" : "not ready"));
            }
            rows.Add(new("QueueDesc", MmioRegisters.QueueDescLow, q.Desc, "descriptor table"));
            rows.Add(new("QueueDriver", MmioRegisters.QueueDriverLow, q.Driver, "driver area"));
            rows.Add(new("QueueDevice", MmioRegisters.QueueDeviceLow, q.Device, "device area"));
        }
        return rows;
    }

    private static string InterruptBits(uint v) => v switch
    {
        0 => "none",
        MmioRegisters.InterruptUsedBuffer => "USED_BUFFER",
        MmioRegisters.InterruptConfigChange => "CONFIG_CHANGE",
        MmioRegisters.InterruptUsedBuffer | MmioRegisters.InterruptConfigChange => "USED_BUFFER|CONFIG_CHANGE",
        _ => $"0x{v:x}",
    };

    private static List<RegisterRow> ConfigFields(ReadOnlySpan<byte> c)
    {
        int b = MmioRegisters.Config;
        ulong capacity = BinaryPrimitives.ReadUInt64LittleEndian(c);
        return
        [
            new("capacity", b + BlkConfigOffsets.Capacity, capacity, $"{capacity} sectors ({capacity * 512 / (1024 * 1024)} MiB)"),
            new("size_max", b + BlkConfigOffsets.SizeMax, U32(c, BlkConfigOffsets.SizeMax), "bytes per segment"),
            new("seg_max", b + BlkConfigOffsets.SegMax, U32(c, BlkConfigOffsets.SegMax), "segments per request"),
            new("geometry.cylinders", b + BlkConfigOffsets.GeometryCylinders, U16(c, BlkConfigOffsets.GeometryCylinders), ""),
            new("geometry.heads", b + BlkConfigOffsets.GeometryHeads, c[BlkConfigOffsets.GeometryHeads], ""),
            new("geometry.sectors", b + BlkConfigOffsets.GeometrySectors, c[BlkConfigOffsets.GeometrySectors], ""),
            new("blk_size", b + BlkConfigOffsets.BlkSize, U32(c, BlkConfigOffsets.BlkSize), "bytes"),
            new("physical_block_exp", b + BlkConfigOffsets.PhysicalBlockExp, c[BlkConfigOffsets.PhysicalBlockExp], ""),
            new("alignment_offset", b + BlkConfigOffsets.AlignmentOffset, c[BlkConfigOffsets.AlignmentOffset], ""),
            new("min_io_size", b + BlkConfigOffsets.MinIoSize, U16(c, BlkConfigOffsets.MinIoSize), "blocks"),
            new("opt_io_size", b + BlkConfigOffsets.OptIoSize, U32(c, BlkConfigOffsets.OptIoSize), "blocks"),
            new("writeback", b + BlkConfigOffsets.Writeback, c[BlkConfigOffsets.Writeback], c[BlkConfigOffsets.Writeback] != 0 ? "write-back" : "write-through"),
            new("num_queues", b + BlkConfigOffsets.NumQueues, U16(c, BlkConfigOffsets.NumQueues), ""),
            new("max_discard_sectors", b + BlkConfigOffsets.MaxDiscardSectors, U32(c, BlkConfigOffsets.MaxDiscardSectors), ""),
            new("max_discard_seg", b + BlkConfigOffsets.MaxDiscardSeg, U32(c, BlkConfigOffsets.MaxDiscardSeg), ""),
            new("discard_sector_alignment", b + BlkConfigOffsets.DiscardSectorAlignment, U32(c, BlkConfigOffsets.DiscardSectorAlignment), ""),
            new("max_write_zeroes_sectors", b + BlkConfigOffsets.MaxWriteZeroesSectors, U32(c, BlkConfigOffsets.MaxWriteZeroesSectors), ""),
            new("max_write_zeroes_seg", b + BlkConfigOffsets.MaxWriteZeroesSeg, U32(c, BlkConfigOffsets.MaxWriteZeroesSeg), ""),
            new("write_zeroes_may_unmap", b + BlkConfigOffsets.WriteZeroesMayUnmap, c[BlkConfigOffsets.WriteZeroesMayUnmap], ""),
        ];
    }

    private static uint U32(ReadOnlySpan<byte> c, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(c[offset..]);

    private static ushort U16(ReadOnlySpan<byte> c, int offset) => BinaryPrimitives.ReadUInt16LittleEndian(c[offset..]);

    private static QueueSnapshot Queue(QueueInfo q, GuestMemory memory)
    {
        var s = new QueueSnapshot
        {
            Index = q.Index,
            Size = q.Num,
            SizeMax = q.NumMax,
            Ready = q.Ready || q.Pfn != 0,
            Format = q.Live is null ? "not live" : q.Live.Layout.Format == RingFormat.Packed ? "packed" : "split",
            DescAddress = q.Live?.Layout.DescTable ?? q.Desc,
            DriverAddress = q.Live?.Layout.DriverArea ?? q.Driver,
            DeviceAddress = q.Live?.Layout.DeviceArea ?? q.Device,
        };
        return q.Live switch
        {
            SplitQueue split => Split(s, split, memory),
            PackedQueue packed => Packed(s, packed, memory),
            _ => s,
        };
    }

    private static QueueSnapshot Split(QueueSnapshot s, SplitQueue q, GuestMemory memory)
    {
        QueueLayout l = q.Layout;
        ushort? availIdx = U16(memory, l.DriverArea + 2);
        ushort? usedIdx = U16(memory, l.DeviceArea + 2);
        var avail = new List<AvailEntry>(l.Size);
        var used = new List<UsedEntry>(l.Size);
        for (int i = 0; i < l.Size; i++)
        {
            avail.Add(new AvailEntry(i, U16(memory, l.DriverArea + 4 + (ulong)(2 * i)) ?? 0));
            used.Add(new UsedEntry(i, U32(memory, l.DeviceArea + 4 + (ulong)(8 * i)) ?? 0, U32(memory, l.DeviceArea + 8 + (ulong)(8 * i)) ?? 0));
        }
        return s with
        {
            AvailIdx = availIdx,
            UsedIdx = usedIdx,
            LastSeenAvail = q.NextAvail,
            NextUsed = q.NextUsed,
            UsedEvent = q.EventIdx ? U16(memory, l.DriverArea + 4 + (ulong)(2 * l.Size)) : null,
            AvailEvent = q.EventIdx ? U16(memory, l.DeviceArea + 4 + (ulong)(8 * l.Size)) : null,
            InFlight = availIdx is { } a && usedIdx is { } u ? (ushort)(a - u) : null,
            AvailRing = avail,
            UsedRing = used,
        };
    }

    private static QueueSnapshot Packed(QueueSnapshot s, PackedQueue q, GuestMemory memory)
    {
        QueueLayout l = q.Layout;
        var ring = new List<PackedEntry>(l.Size);
        int available = 0;
        for (int i = 0; i < l.Size; i++)
        {
            ulong d = l.DescTable + (ulong)(16 * i);
            ushort flags = U16(memory, d + 14) ?? 0;
            bool availBit = (flags & (1 << 7)) != 0;
            bool usedBit = (flags & (1 << 15)) != 0;
            if (availBit != usedBit)
            {
                available++;
            }
            ring.Add(new PackedEntry(i, U64(memory, d) ?? 0, U32(memory, d + 8) ?? 0, U16(memory, d + 12) ?? 0, PackedFlags(flags)));
        }
        return s with
        {
            LastSeenAvail = q.NextAvail,
            NextUsed = q.NextUsed,
            AvailWrapCounter = q.AvailWrapCounter,
            UsedWrapCounter = q.UsedWrapCounter,
            UsedEvent = U16(memory, l.DriverArea),
            AvailEvent = U16(memory, l.DeviceArea),
            InFlight = available,
            PackedRing = ring,
        };
    }

    /// <summary>Names of descriptor flags (split and packed bit positions).</summary>
    public static string PackedFlags(ushort flags)
    {
        var names = new List<string>();
        if ((flags & 1) != 0) { names.Add("NEXT"); }
        if ((flags & 2) != 0) { names.Add("WRITE"); }
        if ((flags & 4) != 0) { names.Add("INDIRECT"); }
        if ((flags & (1 << 7)) != 0) { names.Add("AVAIL"); }
        if ((flags & (1 << 15)) != 0) { names.Add("USED"); }
        return names.Count == 0 ? "-" : string.Join('|', names);
    }

    private static ushort? U16(GuestMemory m, ulong address)
    {
        Span<byte> b = stackalloc byte[2];
        return m.TryRead(address, b) is null ? BinaryPrimitives.ReadUInt16LittleEndian(b) : null;
    }

    private static uint? U32(GuestMemory m, ulong address)
    {
        Span<byte> b = stackalloc byte[4];
        return m.TryRead(address, b) is null ? BinaryPrimitives.ReadUInt32LittleEndian(b) : null;
    }

    private static ulong? U64(GuestMemory m, ulong address)
    {
        Span<byte> b = stackalloc byte[8];
        return m.TryRead(address, b) is null ? BinaryPrimitives.ReadUInt64LittleEndian(b) : null;
    }
}
