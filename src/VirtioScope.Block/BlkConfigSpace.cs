using System.Buffers.Binary;

namespace VirtioScope.Block;

/// <summary>The virtio-blk configuration space (spec 5.2.4) as bytes, built once from the options and the backend.</summary>
internal sealed class BlkConfigSpace
{
    private readonly byte[] _bytes = new byte[BlkConfigOffsets.Length];

    public BlkConfigSpace(BlockDeviceOptions options, long capacityBytes)
    {
        Span<byte> b = _bytes;
        ulong sectors = (ulong)capacityBytes / BlkLayout.SectorSize;
        BlockGeometry geometry = options.Geometry ?? new BlockGeometry((ushort)Math.Min(sectors / (16 * 63), ushort.MaxValue), 16, 63);
        BinaryPrimitives.WriteUInt64LittleEndian(b[BlkConfigOffsets.Capacity..], sectors);
        BinaryPrimitives.WriteUInt32LittleEndian(b[BlkConfigOffsets.SizeMax..], options.SizeMax);
        BinaryPrimitives.WriteUInt32LittleEndian(b[BlkConfigOffsets.SegMax..], options.SegMax);
        BinaryPrimitives.WriteUInt16LittleEndian(b[BlkConfigOffsets.GeometryCylinders..], geometry.Cylinders);
        b[BlkConfigOffsets.GeometryHeads] = geometry.Heads;
        b[BlkConfigOffsets.GeometrySectors] = geometry.Sectors;
        BinaryPrimitives.WriteUInt32LittleEndian(b[BlkConfigOffsets.BlkSize..], options.BlockSize);
        b[BlkConfigOffsets.PhysicalBlockExp] = options.PhysicalBlockExponent;
        b[BlkConfigOffsets.AlignmentOffset] = options.AlignmentOffset;
        BinaryPrimitives.WriteUInt16LittleEndian(b[BlkConfigOffsets.MinIoSize..], options.MinIoSize);
        BinaryPrimitives.WriteUInt32LittleEndian(b[BlkConfigOffsets.OptIoSize..], options.OptIoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(b[BlkConfigOffsets.NumQueues..], (ushort)options.NumQueues);
        BinaryPrimitives.WriteUInt32LittleEndian(b[BlkConfigOffsets.MaxDiscardSectors..], options.MaxDiscardSectors);
        BinaryPrimitives.WriteUInt32LittleEndian(b[BlkConfigOffsets.MaxDiscardSeg..], options.MaxDiscardSegments);
        BinaryPrimitives.WriteUInt32LittleEndian(b[BlkConfigOffsets.DiscardSectorAlignment..], options.DiscardSectorAlignment);
        BinaryPrimitives.WriteUInt32LittleEndian(b[BlkConfigOffsets.MaxWriteZeroesSectors..], options.MaxWriteZeroesSectors);
        BinaryPrimitives.WriteUInt32LittleEndian(b[BlkConfigOffsets.MaxWriteZeroesSeg..], options.MaxWriteZeroesSegments);
        b[BlkConfigOffsets.WriteZeroesMayUnmap] = options.WriteZeroesMayUnmap ? (byte)1 : (byte)0;
        Writeback = options.WriteCache == WriteCacheMode.WriteBack;
    }

    public ReadOnlySpan<byte> Bytes => _bytes;

    public ulong CapacitySectors => BinaryPrimitives.ReadUInt64LittleEndian(_bytes);

    public uint SizeMax => BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan(BlkConfigOffsets.SizeMax));

    public uint SegMax => BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan(BlkConfigOffsets.SegMax));

    public uint MaxDiscardSectors => BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan(BlkConfigOffsets.MaxDiscardSectors));

    public uint MaxDiscardSegments => BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan(BlkConfigOffsets.MaxDiscardSeg));

    public uint MaxWriteZeroesSectors => BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan(BlkConfigOffsets.MaxWriteZeroesSectors));

    public uint MaxWriteZeroesSegments => BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan(BlkConfigOffsets.MaxWriteZeroesSeg));

    public bool WriteZeroesMayUnmap => _bytes[BlkConfigOffsets.WriteZeroesMayUnmap] != 0;

    /// <summary>The writeback field: the one field a driver may write (with CONFIG_WCE).</summary>
    public bool Writeback
    {
        get => _bytes[BlkConfigOffsets.Writeback] != 0;
        set => _bytes[BlkConfigOffsets.Writeback] = value ? (byte)1 : (byte)0;
    }
}
