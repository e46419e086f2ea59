using System.Buffers.Binary;
using VirtioScope.Memory;
using VirtioScope.Virtio.Queues;

namespace VirtioScope.Block;

/// <summary>
/// Turns a descriptor chain into a <see cref="BlkRequest"/> and validates it completely (spec 5.2.6) before anything
/// touches the backend. The framing is the spec's, independent of how the driver split the buffers: the first 16 bytes
/// are the header, the last byte is the status, everything between is data.
/// </summary>
internal sealed class RequestParser
{
    private readonly BlkConfigSpace _config;

    public RequestParser(BlkConfigSpace config) => _config = config;

    /// <summary>Negotiated features; set on activation.</summary>
    public ulong Features { get; set; }

    /// <summary>Whether the backend refuses writes.</summary>
    public bool ReadOnly { get; set; }

    public void Parse(GuestMemory memory, DescriptorChain chain, BlkRequest request)
    {
        request.Clear();
        ReadOnlySpan<Descriptor> d = chain.Descriptors;
        // The status byte is the very last byte of the chain and must be device-writable. A chain whose end is
        // unknown (a loop, say) has no trustworthy last byte: writing there could corrupt a driver buffer.
        if (chain.EndKnown && d.Length > 0 && d[^1].IsWriteOnly && d[^1].Length > 0)
        {
            request.HasStatus = true;
            request.StatusAddress = d[^1].Address + d[^1].Length - 1;
        }
        if (chain.Error != ChainError.None)
        {
            request.Rejection = RequestRejection.MalformedChain;
            return;
        }
        if (!request.HasStatus || !memory.IsValidRange(request.StatusAddress, 1))
        {
            request.HasStatus = false;
            request.Rejection = RequestRejection.NoStatusByte;
            return;
        }
        if (!TryReadHeader(memory, d, request))
        {
            return;
        }
        if (!CarveData(memory, d, request))
        {
            return;
        }
        request.Rejection = Validate(request);
    }

    private static bool TryReadHeader(GuestMemory memory, ReadOnlySpan<Descriptor> d, BlkRequest request)
    {
        Span<byte> header = stackalloc byte[BlkLayout.HeaderSize];
        int got = 0;
        for (int i = 0; i < d.Length && got < header.Length; i++)
        {
            if (d[i].IsWriteOnly)
            {
                break;
            }
            int take = (int)Math.Min(d[i].Length, (uint)(header.Length - got));
            if (memory.TryRead(d[i].Address, header.Slice(got, take)) is not null)
            {
                request.Rejection = RequestRejection.BufferOutsideMemory;
                return false;
            }
            got += take;
        }
        if (got < header.Length)
        {
            request.Rejection = RequestRejection.BadHeader;
            return false;
        }
        request.RawType = BinaryPrimitives.ReadUInt32LittleEndian(header);
        request.Sector = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
        return true;
    }

    /// <summary>Collects the bytes between header and status as data segments, checking each lies in guest memory.</summary>
    private static bool CarveData(GuestMemory memory, ReadOnlySpan<Descriptor> d, BlkRequest request)
    {
        ulong skip = BlkLayout.HeaderSize;
        for (int i = 0; i < d.Length; i++)
        {
            ulong addr = d[i].Address;
            ulong len = d[i].Length;
            if (i == d.Length - 1)
            {
                len--; // the status byte
            }
            ulong cut = Math.Min(skip, len);
            skip -= cut;
            addr += cut;
            len -= cut;
            if (len == 0)
            {
                continue;
            }
            if (!memory.IsValidRange(addr, len))
            {
                request.Rejection = RequestRejection.BufferOutsideMemory;
                return false;
            }
            request.Segments[request.SegmentCount++] = new DataSegment(addr, (uint)len, d[i].IsWriteOnly);
            request.DataBytes += len;
        }
        return true;
    }

    private RequestRejection Validate(BlkRequest r)
    {
        switch (r.Type)
        {
            case BlkRequestType.In:
                return CheckDirection(r, writable: true) ?? CheckReadWrite(r);
            case BlkRequestType.Out:
                return CheckDirection(r, writable: false) ?? (ReadOnly ? RequestRejection.ReadOnly : CheckReadWrite(r));
            case BlkRequestType.Flush:
                return r.DataBytes == 0 ? RequestRejection.None : RequestRejection.BadLength;
            case BlkRequestType.GetId:
                return CheckDirection(r, writable: true) ?? (r.DataBytes == 0 ? RequestRejection.BadLength : RequestRejection.None);
            case BlkRequestType.Discard when (Features & BlkFeatures.Discard) != 0:
            case BlkRequestType.WriteZeroes when (Features & BlkFeatures.WriteZeroes) != 0:
                return CheckDirection(r, writable: false) ?? (ReadOnly ? RequestRejection.ReadOnly : RequestRejection.None);
            default:
                return RequestRejection.Unsupported;
        }
    }

    private static RequestRejection? CheckDirection(BlkRequest r, bool writable)
    {
        foreach (DataSegment s in r.Data)
        {
            if (s.Writable != writable)
            {
                return RequestRejection.WrongDirection;
            }
        }
        return null;
    }

    private RequestRejection CheckReadWrite(BlkRequest r)
    {
        if (r.DataBytes == 0 || r.DataBytes % BlkLayout.SectorSize != 0)
        {
            return RequestRejection.BadLength;
        }
        if ((Features & BlkFeatures.SegMax) != 0 && (uint)r.SegmentCount > _config.SegMax)
        {
            return RequestRejection.TooManySegments;
        }
        if ((Features & BlkFeatures.SizeMax) != 0)
        {
            foreach (DataSegment s in r.Data)
            {
                if (s.Length > _config.SizeMax)
                {
                    return RequestRejection.SegmentTooLarge;
                }
            }
        }
        ulong capacity = _config.CapacitySectors;
        ulong sectors = r.DataBytes / BlkLayout.SectorSize;
        return r.Sector <= capacity && sectors <= capacity - r.Sector ? RequestRejection.None : RequestRejection.OutOfRange;
    }

    /// <summary>
    /// Reads and checks the discard / write-zeroes range list (spec 5.2.6.2) into <paramref name="ranges"/>;
    /// the data may span several buffers.
    /// </summary>
    public RequestRejection ParseRanges(GuestMemory memory, BlkRequest r, Span<BlkRange> ranges, out int count)
    {
        count = 0;
        bool discard = r.Type == BlkRequestType.Discard;
        uint maxSegments = discard ? _config.MaxDiscardSegments : _config.MaxWriteZeroesSegments;
        uint maxSectors = discard ? _config.MaxDiscardSectors : _config.MaxWriteZeroesSectors;
        if (r.DataBytes == 0 || r.DataBytes % BlkLayout.SegmentSize != 0)
        {
            return RequestRejection.BadRangeList;
        }
        ulong n = r.DataBytes / BlkLayout.SegmentSize;
        if (n > maxSegments || n > (ulong)ranges.Length)
        {
            return RequestRejection.BadRangeList;
        }
        Span<byte> raw = stackalloc byte[BlkLayout.SegmentSize];
        int segment = 0;
        uint within = 0;
        ulong capacity = _config.CapacitySectors;
        for (int i = 0; i < (int)n; i++)
        {
            // Gather 16 bytes that may straddle data buffers.
            for (int got = 0; got < raw.Length;)
            {
                DataSegment s = r.Segments[segment];
                int take = (int)Math.Min(s.Length - within, (uint)(raw.Length - got));
                memory.Read(s.Address + within, raw.Slice(got, take));
                got += take;
                within += (uint)take;
                if (within == s.Length)
                {
                    segment++;
                    within = 0;
                }
            }
            ulong sector = BinaryPrimitives.ReadUInt64LittleEndian(raw);
            uint sectors = BinaryPrimitives.ReadUInt32LittleEndian(raw[8..]);
            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(raw[12..]);
            uint allowedFlags = discard ? 0u : BlkLayout.SegmentFlagUnmap;
            if ((flags & ~allowedFlags) != 0)
            {
                return RequestRejection.UnsupportedFlags;
            }
            if (sectors > maxSectors || sector > capacity || sectors > capacity - sector)
            {
                return RequestRejection.BadRangeList;
            }
            ranges[count++] = new BlkRange(sector, sectors, (flags & BlkLayout.SegmentFlagUnmap) != 0);
        }
        return RequestRejection.None;
    }
}

/// <summary>One range of a discard or write-zeroes request.</summary>
internal readonly record struct BlkRange(ulong Sector, uint Sectors, bool Unmap);
