using VirtioScope.Block;
using VirtioScope.Virtio;

namespace VirtioScope.Guest;

/// <summary>
/// Reads the virtio-blk configuration space the way the spec asks (section 2.5.1 and 4.2.3): each field with an access
/// of its own width, 64-bit fields as two 32-bit halves, and the whole read repeated until ConfigGeneration is the same
/// before and after, so a change in the middle is never seen half-applied.
/// </summary>
public static class BlkConfigReader
{
    /// <summary>How often the read is retried before the device is declared unstable.</summary>
    public const int MaxAttempts = 64;

    /// <summary>Reads the fields that <paramref name="features"/> make valid.</summary>
    /// <param name="mmio">The device's register window.</param>
    /// <param name="features">Negotiated features.</param>
    /// <param name="useGeneration">Whether the transport has ConfigGeneration (virtio-mmio version 2).</param>
    /// <exception cref="GuestDriverException">ConfigGeneration kept changing.</exception>
    public static VirtioBlkConfig Read(IMmioDevice mmio, ulong features, bool useGeneration)
    {
        ArgumentNullException.ThrowIfNull(mmio);
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            uint before = useGeneration ? mmio.Read(MmioRegisters.ConfigGeneration, 4) : 0;
            VirtioBlkConfig config = ReadOnce(mmio, features);
            uint after = useGeneration ? mmio.Read(MmioRegisters.ConfigGeneration, 4) : 0;
            if (before == after)
            {
                return config;
            }
        }
        throw new GuestDriverException($"virtio-blk configuration kept changing: ConfigGeneration differed across {MaxAttempts} consecutive reads");
    }

    private static VirtioBlkConfig ReadOnce(IMmioDevice mmio, ulong f)
    {
        bool Has(ulong bit) => (f & bit) != 0;
        uint R32(int off) => mmio.Read((ulong)(MmioRegisters.Config + off), 4);
        ushort R16(int off) => (ushort)mmio.Read((ulong)(MmioRegisters.Config + off), 2);
        byte R8(int off) => (byte)mmio.Read((ulong)(MmioRegisters.Config + off), 1);

        ulong capacity = R32(BlkConfigOffsets.Capacity) | ((ulong)R32(BlkConfigOffsets.Capacity + 4) << 32);
        return new VirtioBlkConfig
        {
            Capacity = capacity,
            SizeMax = Has(BlkFeatures.SizeMax) ? R32(BlkConfigOffsets.SizeMax) : 0,
            SegMax = Has(BlkFeatures.SegMax) ? R32(BlkConfigOffsets.SegMax) : 0,
            Cylinders = Has(BlkFeatures.Geometry) ? R16(BlkConfigOffsets.GeometryCylinders) : (ushort)0,
            Heads = Has(BlkFeatures.Geometry) ? R8(BlkConfigOffsets.GeometryHeads) : (byte)0,
            Sectors = Has(BlkFeatures.Geometry) ? R8(BlkConfigOffsets.GeometrySectors) : (byte)0,
            BlkSize = Has(BlkFeatures.BlkSize) ? R32(BlkConfigOffsets.BlkSize) : 512,
            PhysicalBlockExp = Has(BlkFeatures.Topology) ? R8(BlkConfigOffsets.PhysicalBlockExp) : (byte)0,
            AlignmentOffset = Has(BlkFeatures.Topology) ? R8(BlkConfigOffsets.AlignmentOffset) : (byte)0,
            MinIoSize = Has(BlkFeatures.Topology) ? R16(BlkConfigOffsets.MinIoSize) : (ushort)0,
            OptIoSize = Has(BlkFeatures.Topology) ? R32(BlkConfigOffsets.OptIoSize) : 0,
            Writeback = Has(BlkFeatures.ConfigWce) ? R8(BlkConfigOffsets.Writeback) : (byte)0,
            NumQueues = Has(BlkFeatures.Mq) ? R16(BlkConfigOffsets.NumQueues) : (ushort)1,
            MaxDiscardSectors = Has(BlkFeatures.Discard) ? R32(BlkConfigOffsets.MaxDiscardSectors) : 0,
            MaxDiscardSeg = Has(BlkFeatures.Discard) ? R32(BlkConfigOffsets.MaxDiscardSeg) : 0,
            DiscardSectorAlignment = Has(BlkFeatures.Discard) ? R32(BlkConfigOffsets.DiscardSectorAlignment) : 0,
            MaxWriteZeroesSectors = Has(BlkFeatures.WriteZeroes) ? R32(BlkConfigOffsets.MaxWriteZeroesSectors) : 0,
            MaxWriteZeroesSeg = Has(BlkFeatures.WriteZeroes) ? R32(BlkConfigOffsets.MaxWriteZeroesSeg) : 0,
            WriteZeroesMayUnmap = Has(BlkFeatures.WriteZeroes) ? R8(BlkConfigOffsets.WriteZeroesMayUnmap) : (byte)0,
        };
    }
}
