using System.Buffers.Binary;
using VirtioScope.Block;
using VirtioScope.Memory;
using VirtioScope.Virtio;
using VirtioScope.Virtio.Queues;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Testing;

/// <summary>
/// One fuzz execution against the device, from structured bytes (the shape rust-vmm's fuzz targets use):
/// byte 0 picks the transport and ring options, the next 1 KiB is scribbled over the rings after a normal bring-up,
/// and the rest is a list of 8-byte operations (MMIO load/store, guest memory poke, notify). Any exception escaping
/// the device, and any backend I/O outside the medium, is a finding.
/// </summary>
public static class DeviceFuzzTarget
{
    public const ulong MemBase = 0x4000_0000;
    public const ulong MemSize = 1 << 20;
    private const int RingScribble = 1024;

    /// <summary>Runs one input; returns the invariant violations (empty when the device behaved).</summary>
    public static IReadOnlyList<string> Execute(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return [];
        }
        byte mode = input[0];
        bool legacy = (mode & 1) != 0;
        bool packed = !legacy && (mode & 2) != 0;
        ulong features = VirtioFeatures.Version1 | BlkFeatures.Flush | BlkFeatures.Discard | BlkFeatures.WriteZeroes | BlkFeatures.SegMax
            | ((mode & 4) != 0 ? VirtioFeatures.RingEventIdx : 0) | ((mode & 8) != 0 ? VirtioFeatures.RingIndirectDesc : 0)
            | (packed ? VirtioFeatures.RingPacked : 0) | ((mode & 16) != 0 ? BlkFeatures.ConfigWce : 0);
        using GuestMemory memory = GuestMemory.Create(MemBase, MemSize);
        using var backend = new BoundsCheckedBackend(256 << 10);
        var device = new BlockDevice(backend, new BlockDeviceOptions { NumQueues = 2, MaxQueueSize = 16 });
        var transport = new MmioTransport(device, memory.CreateView(), new MmioTransportOptions { Version = legacy ? MmioVersion.Legacy : MmioVersion.Modern });
        BringUp(transport, features, packed, legacy);

        ReadOnlySpan<byte> scribble = input[1..Math.Min(input.Length, 1 + RingScribble)];
        scribble.CopyTo(memory.WriteSpan(MemBase, scribble.Length));
        ReadOnlySpan<byte> ops = input.Length > 1 + RingScribble ? input[(1 + RingScribble)..] : [];
        for (int i = 0; i + 8 <= ops.Length && i < 8 * 4096; i += 8)
        {
            byte kind = ops[i];
            ushort offset = BinaryPrimitives.ReadUInt16LittleEndian(ops[(i + 2)..]);
            uint value = BinaryPrimitives.ReadUInt32LittleEndian(ops[(i + 4)..]);
            switch (kind % 4)
            {
                case 0:
                    transport.Read((ulong)(offset % 0x180), 1 << (ops[i + 1] % 4));
                    break;
                case 1:
                    transport.Write((ulong)(offset % 0x180), 1 << (ops[i + 1] % 4), value);
                    break;
                case 2:
                    memory.WriteU32(MemBase + (ulong)(offset % (RingScribble * 4)), value);
                    break;
                default:
                    transport.Write(MmioRegisters.QueueNotify, 4, value % 3);
                    break;
            }
        }
        return backend.Violations;
    }

    private static void BringUp(MmioTransport t, ulong features, bool packed, bool legacy)
    {
        t.Write(MmioRegisters.Status, 4, 1);
        t.Write(MmioRegisters.Status, 4, 3);
        t.Write(MmioRegisters.DriverFeaturesSel, 4, 0);
        t.Write(MmioRegisters.DriverFeatures, 4, (uint)features);
        t.Write(MmioRegisters.DriverFeaturesSel, 4, 1);
        t.Write(MmioRegisters.DriverFeatures, 4, (uint)(features >> 32));
        t.Write(MmioRegisters.Status, 4, 11);
        var layout = new QueueLayout(packed ? RingFormat.Packed : RingFormat.Split, 16, MemBase, MemBase + 256, MemBase + 512);
        t.Write(MmioRegisters.QueueSel, 4, 0);
        t.Write(MmioRegisters.QueueNum, 4, 16);
        if (legacy)
        {
            t.Write(MmioRegisters.GuestPageSize, 4, 4096);
            t.Write(MmioRegisters.QueueAlign, 4, 4096);
            t.Write(MmioRegisters.QueuePfn, 4, (uint)(MemBase / 4096));
        }
        else
        {
            t.Write(MmioRegisters.QueueDescLow, 4, (uint)layout.DescTable);
            t.Write(MmioRegisters.QueueDriverLow, 4, (uint)layout.DriverArea);
            t.Write(MmioRegisters.QueueDeviceLow, 4, (uint)layout.DeviceArea);
            t.Write(MmioRegisters.QueueReady, 4, 1);
        }
        t.Write(MmioRegisters.Status, 4, 15);
    }
}

/// <summary>A memory backend that records (instead of serving) any I/O outside the medium.</summary>
public sealed class BoundsCheckedBackend(long size) : IBlockBackend
{
    private readonly MemoryBackend _inner = new(size);

    public List<string> Violations { get; } = [];

    public long Size => _inner.Size;
    public bool IsReadOnly => false;
    public BlockCapabilities Capabilities => _inner.Capabilities;

    private bool Check(string op, long offset, long length)
    {
        if (offset < 0 || length < 0 || offset > Size || length > Size - offset)
        {
            Violations.Add($"{op} {offset}+{length}");
            return false;
        }
        return true;
    }

    public void Read(long offset, Span<byte> destination)
    {
        if (Check("read", offset, destination.Length))
        {
            _inner.Read(offset, destination);
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        if (Check("write", offset, source.Length))
        {
            _inner.Write(offset, source);
        }
    }

    public void Flush()
    {
    }

    public void Discard(long offset, long length) => Check("discard", offset, length);

    public void WriteZeroes(long offset, long length, ZeroingMode mode)
    {
        if (Check("write-zeroes", offset, length))
        {
            _inner.WriteZeroes(offset, length, mode);
        }
    }

    public void Dispose() => _inner.Dispose();
}
