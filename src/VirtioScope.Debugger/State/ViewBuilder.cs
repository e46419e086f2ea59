using System.Globalization;
using VirtioScope.Block;
using VirtioScope.Debugger.Backend;
using VirtioScope.Debugger.Execution;
using VirtioScope.Images;
using VirtioScope.Virtio.Queues;

namespace VirtioScope.Debugger;

/// <summary>Builds the request and backend views from a parked machine.</summary>
internal static class ViewBuilder
{
    /// <summary>Bytes of each buffer shown in hex.</summary>
    public const int HexBytes = 64;

    public static RequestView Request(Machine m, RequestRecord r)
    {
        var rows = new List<DescriptorRow>(r.Descriptors.Count);
        for (int i = 0; i < r.Descriptors.Count; i++)
        {
            Descriptor d = r.Descriptors[i];
            rows.Add(new DescriptorRow(i, d.Address, d.Length, SnapshotBuilder.PackedFlags((ushort)d.Flags),
                i + 1 < r.Descriptors.Count ? i + 1 : null, Hex(m, d.Address, (int)Math.Min(d.Length, HexBytes))));
        }
        return new RequestView
        {
            Queue = r.Queue,
            Id = r.Id,
            Type = r.Type is { } t && Enum.TryParse(t, out BlkRequestType type) ? RequestNames.Of(type) : r.Type ?? "unparsed",
            Sector = r.Sector,
            DataBytes = r.DataBytes,
            Segments = r.Segments,
            ChainError = r.ChainError.ToString(),
            Rejection = r.Rejection,
            Status = r.Status is { } s ? RequestNames.Status(s) : "in flight",
            UsedLength = r.UsedLength,
            PoppedAt = r.PoppedAt,
            CompletedAt = r.CompletedAt,
            Descriptors = rows,
        };
    }

    public static BackendView Backend(Machine m, RequestRecord? r)
    {
        var locations = new List<SectorLocation>();
        string? request = null;
        if (r is { DataBytes: > 0, Type: nameof(BlkRequestType.In) or nameof(BlkRequestType.Out) })
        {
            request = string.Create(CultureInfo.InvariantCulture, $"queue {r.Queue} id {r.Id}: sectors {r.Sector}-{r.Sector + ((r.DataBytes - 1) / 512)}");
            long offset = checked((long)r.Sector * 512);
            long end = Math.Min(offset + r.DataBytes, m.Backend.Size);
            while (offset < end)
            {
                (long length, string where) = Locate(m, offset, end - offset);
                locations.Add(new SectorLocation((ulong)offset / 512, (ulong)((length + 511) / 512), where));
                offset += length;
            }
        }
        return new BackendView
        {
            Format = m.Options.BaseDescription is { } content ? content : m.Image is null ? "memory" : m.Image.Format.ToString().ToLowerInvariant(),
            Path = m.Image?.FilePath,
            VirtualSize = m.Backend.Size,
            Writes = m.Options.BaseBackend is not null ? "overlay (content protected)" : m.Image is null ? "memory (lost at exit)" : m.Overlay is null ? "image (--rw)" : "overlay (image protected)",
            OverlayChunks = m.Overlay?.ChunkCount ?? 0,
            Request = request,
            Locations = locations,
        };
    }

    private static (long Length, string Where) Locate(Machine m, long offset, long length)
    {
        if (m.Overlay is { } overlay)
        {
            long chunkEnd = Math.Min(offset + length, ((offset / OverlayBackend.ChunkSize) + 1) * OverlayBackend.ChunkSize);
            if (overlay.Overlaps(offset, chunkEnd - offset))
            {
                return (chunkEnd - offset, "session overlay (written in this session)");
            }
            if (m.Image is null)
            {
                return (chunkEnd - offset, m.Options.BaseDescription ?? "memory");
            }
            length = chunkEnd - offset;
        }
        if (m.Image is null)
        {
            return (length, "memory");
        }
        MapRecord rec = ImageMap.Resolve(m.Image, offset, length);
        string where = (rec.Data, rec.Zero, rec.Present) switch
        {
            (true, _, _) when rec.Depth > 0 => string.Create(CultureInfo.InvariantCulture, $"data in backing file (depth {rec.Depth}) {rec.File} at 0x{rec.Offset:x}"),
            (true, _, _) => string.Create(CultureInfo.InvariantCulture, $"data at host offset 0x{rec.Offset:x}"),
            (false, true, true) => "zero cluster (allocated as zero)",
            _ => "unallocated (reads as zero)",
        };
        return (Math.Max(1, rec.Length), where);
    }

    private static List<string> Hex(Machine m, ulong address, int length)
    {
        var lines = new List<string>();
        if (length <= 0)
        {
            return lines;
        }
        byte[] bytes = new byte[length];
        if (m.Memory.TryRead(address, bytes) is not null)
        {
            lines.Add("(not in guest memory)");
            return lines;
        }
        for (int i = 0; i < length; i += 16)
        {
            ReadOnlySpan<byte> row = bytes.AsSpan(i, Math.Min(16, length - i));
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{address + (ulong)i:x10}  {Convert.ToHexStringLower(row)}"));
        }
        return lines;
    }
}
