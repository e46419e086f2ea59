using System.Buffers.Binary;
using System.Text;
using static VirtioScope.Images.Qcow2.Qcow2Layout;

namespace VirtioScope.Images.Qcow2;

/// <summary>One entry of the qcow2 snapshot table.</summary>
internal sealed class Qcow2Snapshot
{
    public long L1Offset { get; set; }
    public int L1Size { get; set; }
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public uint DateSeconds { get; set; }
    public uint DateNanoseconds { get; set; }
    public ulong VmClockNanoseconds { get; set; }
    public ulong VmStateSize { get; set; }
    public long DiskSize { get; set; }
    public ulong Icount { get; set; } = ulong.MaxValue;
    public byte[] ExtraData { get; set; } = [];

    public SnapshotInfo ToInfo() => new(
        Id, Name, (long)VmStateSize,
        DateTimeOffset.FromUnixTimeSeconds(DateSeconds).AddTicks(DateNanoseconds / 100),
        (long)VmClockNanoseconds, DiskSize)
    { Icount = Icount == ulong.MaxValue ? 0 : (long)Icount };

    /// <summary>Reads and checks the snapshot table; every L1 reference is range-checked against the file.</summary>
    public static List<Qcow2Snapshot> ReadTable(Microsoft.Win32.SafeHandles.SafeFileHandle file, Qcow2Header h, long fileLength, string path, out long tableBytes)
    {
        tableBytes = 0;
        var list = new List<Qcow2Snapshot>(h.NbSnapshots);
        if (h.NbSnapshots == 0)
        {
            return list;
        }
        long maxBytes = Math.Min(MaxSnapshotTableBytes, fileLength - h.SnapshotsOffset);
        long offset = h.SnapshotsOffset;
        long consumed = 0;
        byte[] fixedPart = new byte[SnapshotFixedSize];
        for (int i = 0; i < h.NbSnapshots; i++)
        {
            string field = $"snapshot table entry {i}";
            if (consumed + SnapshotFixedSize > maxBytes)
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, field, "snapshot table runs past the end of the file or its 64 MiB limit");
            }
            Raw.HostFile.ReadFull(file, fixedPart, offset + consumed);
            ReadOnlySpan<byte> f = fixedPart;
            var s = new Qcow2Snapshot
            {
                L1Offset = (long)BinaryPrimitives.ReadUInt64BigEndian(f),
                L1Size = (int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32BigEndian(f[8..])),
                DateSeconds = BinaryPrimitives.ReadUInt32BigEndian(f[16..]),
                DateNanoseconds = BinaryPrimitives.ReadUInt32BigEndian(f[20..]),
                VmClockNanoseconds = BinaryPrimitives.ReadUInt64BigEndian(f[24..]),
                VmStateSize = BinaryPrimitives.ReadUInt32BigEndian(f[32..]),
                DiskSize = h.Size,
            };
            int idLen = BinaryPrimitives.ReadUInt16BigEndian(f[12..]);
            int nameLen = BinaryPrimitives.ReadUInt16BigEndian(f[14..]);
            uint extraLen = BinaryPrimitives.ReadUInt32BigEndian(f[36..]);
            if (extraLen > MaxSnapshotExtraData)
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, field, $"extra data of {extraLen} bytes exceeds the 1 KiB limit");
            }
            long entryLen = SnapshotFixedSize + extraLen + idLen + nameLen;
            if (consumed + entryLen > maxBytes)
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, field, "snapshot table runs past the end of the file or its 64 MiB limit");
            }
            byte[] rest = new byte[extraLen + idLen + nameLen];
            Raw.HostFile.ReadFull(file, rest, offset + consumed + SnapshotFixedSize);
            s.ExtraData = rest[..(int)extraLen];
            if (extraLen >= 8)
            {
                s.VmStateSize = BinaryPrimitives.ReadUInt64BigEndian(rest);
            }
            if (extraLen >= 16)
            {
                s.DiskSize = (long)Math.Min(long.MaxValue, BinaryPrimitives.ReadUInt64BigEndian(rest.AsSpan(8)));
            }
            if (extraLen >= 24)
            {
                s.Icount = BinaryPrimitives.ReadUInt64BigEndian(rest.AsSpan(16));
            }
            s.Id = Encoding.UTF8.GetString(rest, (int)extraLen, idLen);
            s.Name = Encoding.UTF8.GetString(rest, (int)extraLen + idLen, nameLen);
            if (s.L1Offset % h.ClusterSize != 0 || s.L1Offset < 0)
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, field, $"L1 table offset 0x{s.L1Offset:x} is not cluster aligned");
            }
            if ((long)s.L1Size * 8 > MaxL1Bytes)
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, field, $"L1 table of {s.L1Size} entries exceeds the 32 MiB limit");
            }
            if (s.L1Size > 0 && (s.L1Offset == 0 || s.L1Offset > fileLength - (long)s.L1Size * 8))
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, field, "L1 table lies past the end of the file");
            }
            consumed += (entryLen + 7) & ~7L;
            list.Add(s);
        }
        tableBytes = consumed;
        return list;
    }

    /// <summary>Serialises a whole snapshot table (entries padded to 8 bytes), version 3 extra data included.</summary>
    public static byte[] WriteTable(IReadOnlyList<Qcow2Snapshot> snapshots)
    {
        using var ms = new MemoryStream();
        foreach (Qcow2Snapshot s in snapshots)
        {
            byte[] id = Encoding.UTF8.GetBytes(s.Id);
            byte[] name = Encoding.UTF8.GetBytes(s.Name);
            byte[] extra = new byte[Math.Max(SnapshotExtraV3, s.ExtraData.Length)];
            s.ExtraData.CopyTo(extra, 0);
            BinaryPrimitives.WriteUInt64BigEndian(extra, s.VmStateSize);
            BinaryPrimitives.WriteUInt64BigEndian(extra.AsSpan(8), (ulong)s.DiskSize);
            byte[] f = new byte[SnapshotFixedSize];
            BinaryPrimitives.WriteUInt64BigEndian(f, (ulong)s.L1Offset);
            BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(8), (uint)s.L1Size);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), (ushort)id.Length);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), (ushort)name.Length);
            BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(16), s.DateSeconds);
            BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(20), s.DateNanoseconds);
            BinaryPrimitives.WriteUInt64BigEndian(f.AsSpan(24), s.VmClockNanoseconds);
            BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(32), (uint)Math.Min(uint.MaxValue, s.VmStateSize));
            BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(36), (uint)extra.Length);
            ms.Write(f);
            ms.Write(extra);
            ms.Write(id);
            ms.Write(name);
            long pad = (8 - ms.Length % 8) % 8;
            ms.Write(new byte[pad]);
        }
        return ms.ToArray();
    }
}
