using System.Text;
using VirtioScope.Memory;
using VirtioScope.Virtio.Events;

namespace VirtioScope.Block;

/// <summary>Carries out a validated request against the backend; returns the status and how many data bytes it wrote.</summary>
internal sealed class RequestExecutor
{
    private readonly IBlockBackend _backend;
    private readonly RequestParser _parser;
    private readonly BlkConfigSpace _config;
    private readonly BlockStatistics _stats;
    private readonly byte[] _serial = new byte[BlkLayout.IdBytes];

    public RequestExecutor(IBlockBackend backend, RequestParser parser, BlkConfigSpace config, BlockStatistics stats, string serial)
    {
        _backend = backend;
        _parser = parser;
        _config = config;
        _stats = stats;
        Encoding.ASCII.GetBytes(serial, _serial);
    }

    /// <summary>Whether every completed write must be flushed to the backend before it is reported.</summary>
    public bool WriteThrough { get; set; }

    /// <summary>Sees requests parsed and completed (the device's <see cref="BlockDevice.RequestObserver"/>).</summary>
    public IBlockRequestObserver? Observer { get; set; }

    public BlkStatus Execute(GuestMemory memory, BlkRequest r, int queue, EventHub events, out uint written)
    {
        written = 0;
        // Backend failures are I/O errors for the driver, mapped here and nowhere else.
        try
        {
            return r.Type switch
            {
                BlkRequestType.In => Read(memory, r, queue, events, out written),
                BlkRequestType.Out => Write(memory, r, queue, events),
                BlkRequestType.Flush => Flush(queue, events),
                BlkRequestType.GetId => GetId(memory, r, out written),
                BlkRequestType.Discard or BlkRequestType.WriteZeroes => Ranges(memory, r, queue, events),
                _ => BlkStatus.Unsupp,
            };
        }
        catch (IOException e)
        {
            events.Fault($"queue {queue}: backend {r.Type} at sector {r.Sector} failed: {e.Message}");
            return BlkStatus.IoErr;
        }
    }

    private BlkStatus Read(GuestMemory memory, BlkRequest r, int queue, EventHub events, out uint written)
    {
        long offset = (long)r.Sector * BlkLayout.SectorSize;
        if (events.Enabled)
        {
            events.Publish(new BackendIoEvent(queue, "read", offset, (long)r.DataBytes));
        }
        written = 0;
        if (Coalesce(r))
        {
            Span<byte> bounce = r.Bounce[..(int)r.DataBytes];
            _backend.Read(offset, bounce);
            foreach (DataSegment s in r.Data)
            {
                memory.TryGetWriteSpan(s.Address, (int)s.Length, out Span<byte> target);
                bounce[..(int)s.Length].CopyTo(target);
                bounce = bounce[(int)s.Length..];
                written += s.Length;
            }
            _stats.Queue(queue).BytesRead += (long)r.DataBytes;
            return BlkStatus.Ok;
        }
        foreach (DataSegment s in r.Data)
        {
            memory.TryGetWriteSpan(s.Address, (int)s.Length, out Span<byte> target);
            _backend.Read(offset, target);
            offset += s.Length;
            written += s.Length;
        }
        _stats.Queue(queue).BytesRead += (long)r.DataBytes;
        return BlkStatus.Ok;
    }

    private BlkStatus Write(GuestMemory memory, BlkRequest r, int queue, EventHub events)
    {
        long offset = (long)r.Sector * BlkLayout.SectorSize;
        if (events.Enabled)
        {
            events.Publish(new BackendIoEvent(queue, "write", offset, (long)r.DataBytes));
        }
        if (Coalesce(r))
        {
            Span<byte> bounce = r.Bounce[..(int)r.DataBytes];
            Span<byte> rest = bounce;
            foreach (DataSegment s in r.Data)
            {
                memory.TryGetReadSpan(s.Address, (int)s.Length, out ReadOnlySpan<byte> source);
                source.CopyTo(rest);
                rest = rest[(int)s.Length..];
            }
            _backend.Write(offset, bounce);
        }
        else
        {
            foreach (DataSegment s in r.Data)
            {
                memory.TryGetReadSpan(s.Address, (int)s.Length, out ReadOnlySpan<byte> source);
                _backend.Write(offset, source);
                offset += s.Length;
            }
        }
        _stats.Queue(queue).BytesWritten += (long)r.DataBytes;
        FlushIfWriteThrough(queue);
        return BlkStatus.Ok;
    }

    /// <summary>Whether one backend call through the bounce buffer beats one call per segment.</summary>
    private bool Coalesce(BlkRequest r) =>
        r.SegmentCount > 1 && r.DataBytes <= BlkRequest.BounceBytes && (_backend.Capabilities & BlockCapabilities.CoalesceSegments) != 0;

    private BlkStatus Flush(int queue, EventHub events)
    {
        if (events.Enabled)
        {
            events.Publish(new BackendIoEvent(queue, "flush", 0, 0));
        }
        _backend.Flush();
        _stats.Queue(queue).Flushes++;
        return BlkStatus.Ok;
    }

    private BlkStatus GetId(GuestMemory memory, BlkRequest r, out uint written)
    {
        written = 0;
        foreach (DataSegment s in r.Data)
        {
            int n = (int)Math.Min(s.Length, (uint)(_serial.Length - (int)written));
            if (n == 0)
            {
                break;
            }
            memory.TryWrite(s.Address, _serial.AsSpan((int)written, n));
            written += (uint)n;
        }
        return BlkStatus.Ok;
    }

    private BlkStatus Ranges(GuestMemory memory, BlkRequest r, int queue, EventHub events)
    {
        RequestRejection rejection = _parser.ParseRanges(memory, r, r.Ranges, out int count);
        if (rejection != RequestRejection.None)
        {
            Observer?.RequestParsed(queue, 0, r.Type, r.Sector, (uint)r.DataBytes, r.SegmentCount, rejection);
            if (events.Enabled)
            {
                events.Publish(new RequestParsedEvent(queue, 0, r.Type.ToString(), r.Sector, (uint)r.DataBytes, r.SegmentCount, rejection.ToString()));
            }
            return rejection == RequestRejection.UnsupportedFlags ? BlkStatus.Unsupp : BlkStatus.IoErr;
        }
        bool discard = r.Type == BlkRequestType.Discard;
        foreach (BlkRange range in r.Ranges.AsSpan(0, count))
        {
            long offset = (long)range.Sector * BlkLayout.SectorSize;
            long length = (long)range.Sectors * BlkLayout.SectorSize;
            if (events.Enabled)
            {
                events.Publish(new BackendIoEvent(queue, discard ? "discard" : "write-zeroes", offset, length));
            }
            if (discard)
            {
                // Discard is advisory: a backend that cannot release space simply keeps the data.
                if ((_backend.Capabilities & BlockCapabilities.Discard) != 0)
                {
                    _backend.Discard(offset, length);
                }
            }
            else
            {
                _backend.WriteZeroes(offset, length, range.Unmap && _config.WriteZeroesMayUnmap ? ZeroingMode.MayUnmap : ZeroingMode.KeepAllocated);
                _stats.Queue(queue).BytesWritten += length;
            }
        }
        FlushIfWriteThrough(queue);
        return BlkStatus.Ok;
    }

    private void FlushIfWriteThrough(int queue)
    {
        if (WriteThrough)
        {
            _backend.Flush();
            _stats.Queue(queue).Flushes++;
        }
    }
}
