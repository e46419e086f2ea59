namespace VirtioScope.Images;

/// <summary>One record of <c>qemu-img map</c>: a run resolved through the whole backing chain.</summary>
public readonly record struct MapRecord(long Start, long Length, int Depth, bool Present, bool Zero, bool Data, long? Offset, string? File);

/// <summary>Allocation queries across a backing chain.</summary>
public static class ImageMap
{
    /// <summary>Resolves the run at <paramref name="offset"/> (at most <paramref name="length"/> bytes) through the chain.</summary>
    public static MapRecord Resolve(IDiskImage image, long offset, long length)
    {
        ArgumentNullException.ThrowIfNull(image);
        IDiskImage layer = image;
        int depth = 0;
        while (true)
        {
            if (offset >= layer.VirtualSize)
            {
                // Past the end of a shorter backing file: reads as zero, decided by the layer above.
                return new MapRecord(offset, length, depth - 1 < 0 ? 0 : depth - 1, false, true, false, null, null);
            }
            ImageExtent e = layer.GetExtent(offset, Math.Min(length, layer.VirtualSize - offset));
            switch (e.Kind)
            {
                case ExtentKind.Data:
                    return new MapRecord(offset, e.Length, depth, true, false, true, e.HostOffset >= 0 ? e.HostOffset : null, e.HostFile);
                case ExtentKind.Zero:
                    // A raw hole still has an address in its file (qemu-img prints it); a qcow2 zero cluster has none.
                    return new MapRecord(offset, e.Length, depth, true, true, false, e.HostOffset >= 0 ? e.HostOffset : null, e.HostOffset >= 0 ? e.HostFile : null);
                default:
                    if (layer.Backing is null)
                    {
                        return new MapRecord(offset, e.Length, depth, false, true, false, null, null);
                    }
                    length = e.Length;
                    layer = layer.Backing;
                    depth++;
                    break;
            }
        }
    }

    /// <summary>All records of the image, merged where qemu-img merges them.</summary>
    public static IEnumerable<MapRecord> Map(IDiskImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        MapRecord? pending = null;
        long pos = 0;
        while (pos < image.VirtualSize)
        {
            MapRecord r = Resolve(image, pos, image.VirtualSize - pos);
            if (pending is { } p && p.Depth == r.Depth && p.Present == r.Present && p.Zero == r.Zero && p.Data == r.Data
                && p.File == r.File && (p.Offset is null ? r.Offset is null : r.Offset == p.Offset + p.Length))
            {
                pending = p with { Length = p.Length + r.Length };
            }
            else
            {
                if (pending is not null)
                {
                    yield return pending.Value;
                }
                pending = r;
            }
            pos += r.Length;
        }
        if (pending is not null)
        {
            yield return pending.Value;
        }
    }

    /// <summary>Whether the range is known to read as zeroes from allocation metadata alone (no data read).</summary>
    public static bool IsZero(IDiskImage image, long offset, long length)
    {
        long end = offset + length;
        while (offset < end)
        {
            MapRecord r = Resolve(image, offset, end - offset);
            if (!r.Zero)
            {
                return false;
            }
            offset += r.Length;
        }
        return true;
    }
}
