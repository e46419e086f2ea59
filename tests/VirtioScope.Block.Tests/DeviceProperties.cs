using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VirtioScope.Block;
using VirtioScope.Memory;
using VirtioScope.Testing;
using VirtioScope.Virtio;
using VirtioScope.Virtio.Queues;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Block.Tests;

public class DeviceProperties
{
    private const ulong Base = DeviceHarness.MemBase;
    private const ulong Size = DeviceHarness.MemSize;

    /// <summary>One generated request: a type, a place, a size and how the data is split into buffers.</summary>
    public readonly record struct Req(byte Kind, ushort Sector, byte Sectors, byte Split);

    private static BlkRequestType TypeOf(byte kind) => (kind % 4) switch
    {
        0 => BlkRequestType.In,
        1 => BlkRequestType.Out,
        2 => BlkRequestType.Flush,
        _ => BlkRequestType.GetId,
    };

    [Property(MaxTest = 200)]
    public bool Every_valid_chain_is_completed_once_with_the_right_used_length(Req[] requests, bool packed, bool indirect)
    {
        requests = requests.Take(12).ToArray();
        ulong features = VirtioFeatures.Version1 | BlkFeatures.Flush | (indirect ? VirtioFeatures.RingIndirectDesc : 0);
        using var h = new DeviceHarness(diskBytes: 1 << 20);
        MockSplitRing? split = packed ? null : h.StartSplit(features, size: 64);
        MockPackedRing? ring = packed ? h.StartPacked(features, size: 64) : null;
        var expected = new Dictionary<ushort, uint>();
        var slots = new Dictionary<ushort, ushort>();
        for (int i = 0; i < requests.Length; i++)
        {
            Req r = requests[i];
            BlkRequestType type = TypeOf(r.Kind);
            ulong area = DeviceHarness.DataBase + (ulong)i * 0x2000;
            int sectors = 1 + r.Sectors % 8;
            ulong sector = (ulong)(r.Sector % (2048 - sectors));
            h.Header(area, type, sector);
            var bufs = new List<Buf> { new(area, 16) };
            uint dataLength = type switch { BlkRequestType.In or BlkRequestType.Out => (uint)(sectors * 512), BlkRequestType.GetId => 20u + (uint)(r.Split % 3), _ => 0 };
            int pieces = dataLength == 0 ? 0 : 1 + r.Split % 3;
            uint at = 0;
            for (int p = 0; p < pieces; p++)
            {
                uint len = p == pieces - 1 ? dataLength - at : dataLength / (uint)pieces;
                bufs.Add(new Buf(area + 512 + at, len, Write: type != BlkRequestType.Out));
                at += len;
            }
            bufs.Add(new Buf(area + 0x1f00, 1, Write: true));
            uint used = type switch { BlkRequestType.In => dataLength + 1, BlkRequestType.GetId => 21, _ => 1 };
            ushort id;
            if (split is not null)
            {
                id = indirect ? split.WriteIndirect(area + 0x1800, [.. bufs]) : split.WriteChain([.. bufs]);
                split.Publish(id);
            }
            else
            {
                id = (ushort)(1000 + i);
                ring!.Add(id, [.. bufs]);
                slots[id] = (ushort)bufs.Count;
            }
            expected[id] = used;
        }
        h.Notify();
        var seen = new Dictionary<ushort, uint>();
        if (split is not null)
        {
            for (int i = 0; i < split.UsedIdx; i++)
            {
                (uint id, uint len) = split.Used(i);
                if (!seen.TryAdd((ushort)id, len))
                {
                    return false;
                }
            }
        }
        else
        {
            foreach (ushort id in slots.Keys)
            {
                if (!ring!.TryTakeUsed(slots[id], out ushort got, out uint len) || !seen.TryAdd(got, len))
                {
                    return false;
                }
            }
        }
        return seen.Count == expected.Count && expected.All(e => seen.TryGetValue(e.Key, out uint l) && l == e.Value)
            && h.Device.Statistics.StatusOk == requests.Length;
    }

    [Property(MaxTest = 300)]
    public bool Random_descriptor_tables_and_ring_indices_never_escape(byte[] garbage, ushort availIdx, bool packed, bool eventIdx)
    {
        ulong features = VirtioFeatures.Version1 | VirtioFeatures.RingIndirectDesc | BlkFeatures.Flush | BlkFeatures.Discard
            | BlkFeatures.WriteZeroes | (eventIdx ? VirtioFeatures.RingEventIdx : 0);
        using GuestMemory memory = GuestMemory.Create(Base, Size);
        using var backend = new BoundsCheckedBackend(1 << 20);
        var device = new BlockDevice(backend);
        var transport = new MmioTransport(device, memory.CreateView());
        var h = new RawHarness(transport);
        QueueLayout layout = h.Start(memory, features, packed);
        // Scribble over the descriptor table and driver area, then point some descriptors into the data area.
        var rng = new Random(garbage.Length == 0 ? 1 : garbage[0]);
        Span<byte> table = memory.WriteSpan(layout.DescTable, (int)layout.DescTableBytes);
        for (int i = 0; i < table.Length; i++)
        {
            table[i] = garbage.Length == 0 ? (byte)0 : garbage[i % garbage.Length];
        }
        for (int i = 0; i < layout.Size; i += 2)
        {
            memory.WriteU64(layout.DescTable + 16UL * (ulong)i, DeviceHarness.DataBase + (ulong)rng.Next(0, 0x8000));
        }
        if (!packed)
        {
            for (int i = 0; i < layout.Size; i++)
            {
                memory.WriteU16(layout.DriverArea + 4 + 2UL * (ulong)i, (ushort)rng.Next(0, layout.Size + 2));
            }
            memory.WriteU16(layout.DriverArea + 2, availIdx);
        }
        for (int i = 0; i < 4; i++)
        {
            transport.Write(MmioRegisters.QueueNotify, 4, 0);
        }
        return backend.Violations.Count == 0;
    }

    [Property(MaxTest = 300)]
    public bool Random_mmio_access_sequences_never_throw(uint[] ops, bool legacy)
    {
        using GuestMemory memory = GuestMemory.Create(Base, Size);
        using var backend = new BoundsCheckedBackend(1 << 20);
        var device = new BlockDevice(backend, new BlockDeviceOptions { NumQueues = 2 });
        var transport = new MmioTransport(device, memory.CreateView(), new MmioTransportOptions { Version = legacy ? MmioVersion.Legacy : MmioVersion.Modern });
        for (int i = 0; i + 1 < ops.Length; i += 2)
        {
            uint op = ops[i];
            ulong offset = op % 0x180;
            int width = 1 << (int)((op >> 9) % 4);
            // Bias values toward plausible ones: guest addresses, small counts, status sequences.
            uint value = ((op >> 11) % 4) switch
            {
                0 => ops[i + 1],
                1 => ops[i + 1] % 16,
                2 => (uint)(Base + ops[i + 1] % Size),
                _ => ops[i + 1] % 256,
            };
            if ((op & 0x80000000) != 0)
            {
                transport.Write(offset, width, value);
            }
            else
            {
                transport.Read(offset, width);
            }
        }
        return backend.Violations.Count == 0;
    }

    private sealed class RawHarness(MmioTransport t)
    {
        public QueueLayout Start(GuestMemory memory, ulong features, bool packed)
        {
            t.Write(MmioRegisters.Status, 4, 1);
            t.Write(MmioRegisters.Status, 4, 3);
            t.Write(MmioRegisters.DriverFeaturesSel, 4, 0);
            t.Write(MmioRegisters.DriverFeatures, 4, (uint)features);
            t.Write(MmioRegisters.DriverFeaturesSel, 4, 1);
            t.Write(MmioRegisters.DriverFeatures, 4, (uint)((features | (packed ? VirtioFeatures.RingPacked : 0)) >> 32));
            t.Write(MmioRegisters.Status, 4, 11);
            QueueLayout layout = packed ? new MockPackedRing(memory, DeviceHarness.RingBase, 16).Layout : new MockSplitRing(memory, DeviceHarness.RingBase, 16).Layout;
            t.Write(MmioRegisters.QueueNum, 4, layout.Size);
            t.Write(MmioRegisters.QueueDescLow, 4, (uint)layout.DescTable);
            t.Write(MmioRegisters.QueueDriverLow, 4, (uint)layout.DriverArea);
            t.Write(MmioRegisters.QueueDeviceLow, 4, (uint)layout.DeviceArea);
            t.Write(MmioRegisters.QueueReady, 4, 1);
            t.Write(MmioRegisters.Status, 4, 15);
            return layout;
        }
    }
}
