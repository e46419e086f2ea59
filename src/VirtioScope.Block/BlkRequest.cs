namespace VirtioScope.Block;

/// <summary>Why a request was refused before it reached the backend.</summary>
public enum RequestRejection
{
    /// <summary>The request is valid.</summary>
    None,

    /// <summary>The descriptor chain itself is malformed (loop, bad indirect table, order).</summary>
    MalformedChain,

    /// <summary>The chain has no device-writable last byte for the status.</summary>
    NoStatusByte,

    /// <summary>The first 16 bytes (the header) are not device-readable, or the chain is shorter.</summary>
    BadHeader,

    /// <summary>A buffer lies outside guest memory.</summary>
    BufferOutsideMemory,

    /// <summary>Data buffers have the wrong direction for the request type.</summary>
    WrongDirection,

    /// <summary>Data length is not a multiple of 512 bytes, or missing where required.</summary>
    BadLength,

    /// <summary>The sector range runs past the capacity.</summary>
    OutOfRange,

    /// <summary>More data segments than seg_max.</summary>
    TooManySegments,

    /// <summary>A segment longer than size_max.</summary>
    SegmentTooLarge,

    /// <summary>A write, discard or write-zeroes to a read-only device.</summary>
    ReadOnly,

    /// <summary>The request type is unknown or its feature was not negotiated.</summary>
    Unsupported,

    /// <summary>Discard / write-zeroes with unknown flags, or unmap on a discard.</summary>
    UnsupportedFlags,

    /// <summary>Discard / write-zeroes segment list malformed or over the configured limits.</summary>
    BadRangeList,
}

/// <summary>One data buffer of a request, in guest memory.</summary>
internal readonly record struct DataSegment(ulong Address, uint Length, bool Writable);

/// <summary>
/// A request parsed from a chain, before execution. One instance per queue is reused, so parsing allocates nothing.
/// </summary>
internal sealed class BlkRequest
{
    public BlkRequest(int capacity, int rangeCapacity)
    {
        Segments = new DataSegment[capacity];
        Ranges = new BlkRange[rangeCapacity];
    }

    /// <summary>Largest request moved through <see cref="Bounce"/>; larger ones go segment by segment.</summary>
    public const int BounceBytes = 1 << 20;

    private byte[]? _bounce;
    private int _bounceAlignment;

    /// <summary>
    /// A 4 KiB-aligned scratch buffer of <see cref="BounceBytes"/> for coalescing segments, allocated on first use
    /// (pinned, so the alignment holds for O_DIRECT backends).
    /// </summary>
    public Span<byte> Bounce
    {
        get
        {
            if (_bounce is null)
            {
                _bounce = GC.AllocateArray<byte>(BounceBytes + 4096, pinned: true);
                unsafe
                {
                    _bounceAlignment = (int)((4096 - (ulong)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _bounce[0]) % 4096) % 4096);
                }
            }
            return _bounce.AsSpan(_bounceAlignment, BounceBytes);
        }
    }

    /// <summary>Scratch for the segments of a discard or write-zeroes request, one per queue so queues can run in parallel.</summary>
    public readonly BlkRange[] Ranges;

    public uint RawType;
    public ulong Sector;
    public readonly DataSegment[] Segments;
    public int SegmentCount;
    public ulong DataBytes;
    public bool HasStatus;
    public ulong StatusAddress;
    public RequestRejection Rejection;

    public BlkRequestType Type => (BlkRequestType)RawType;

    public ReadOnlySpan<DataSegment> Data => Segments.AsSpan(0, SegmentCount);

    public void Clear()
    {
        RawType = 0;
        Sector = 0;
        SegmentCount = 0;
        DataBytes = 0;
        HasStatus = false;
        StatusAddress = 0;
        Rejection = RequestRejection.None;
    }

    /// <summary>The status the driver gets for a rejection, per spec 5.2.6.</summary>
    public BlkStatus RejectionStatus => Rejection is RequestRejection.Unsupported or RequestRejection.UnsupportedFlags
        ? BlkStatus.Unsupp
        : BlkStatus.IoErr;
}
