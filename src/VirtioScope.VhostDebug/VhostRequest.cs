using System.Globalization;
using VirtioScope.Block;
using VirtioScope.Debugger;
using VirtioScope.Memory;
using VirtioScope.Virtio.Queues;

namespace VirtioScope.VhostDebug;

/// <summary>What the controller saw of one request taken from a live ring: its chain, the decoded request, its completion.</summary>
internal sealed class VhostRequest(int queue, ushort id, long number, Descriptor[] descriptors, ChainError chainError)
{
    /// <summary>Bytes of each buffer kept as hex.</summary>
    public const int HexBytes = 64;

    public int Queue { get; } = queue;

    public ushort Id { get; } = id;

    /// <summary>1 for the first request the controller saw taken, and so on.</summary>
    public long Number { get; } = number;

    public Descriptor[] Descriptors { get; } = descriptors;

    public ChainError ChainError { get; } = chainError;

    public string? Type { get; set; }

    public ulong Sector { get; set; }

    public uint DataBytes { get; set; }

    public int Segments { get; set; }

    public string? Rejection { get; set; }

    public byte? Status { get; set; }

    public uint? UsedLength { get; set; }

    /// <summary>Completions seen when this one completed.</summary>
    public long? CompletedAs { get; set; }

    /// <summary>Breakpoint the request matched, or 0.</summary>
    public int Breakpoint { get; set; }

    /// <summary>Buffer starts as hex, captured at completion (the guest may reuse the buffers right after).</summary>
    public List<string>[]? Hex { get; set; }

    /// <summary>Reads the start of every buffer while guest memory is certainly mapped (on the queue's thread).</summary>
    public void CaptureHex(GuestMemory memory)
    {
        var hex = new List<string>[Descriptors.Length];
        Span<byte> bytes = stackalloc byte[HexBytes];
        for (int i = 0; i < Descriptors.Length; i++)
        {
            hex[i] = [];
            Descriptor d = Descriptors[i];
            int length = (int)Math.Min(d.Length, HexBytes);
            if (length == 0)
            {
                continue;
            }
            if (memory.TryRead(d.Address, bytes[..length]) is not null)
            {
                hex[i].Add("(not in guest memory)");
                continue;
            }
            for (int at = 0; at < length; at += 16)
            {
                hex[i].Add(string.Create(CultureInfo.InvariantCulture, $"{d.Address + (ulong)at:x10}  {Convert.ToHexStringLower(bytes.Slice(at, Math.Min(16, length - at)))}"));
            }
        }
        Hex = hex;
    }

    /// <summary>The debugger's request view; "popped at" and "completed at" count requests, not register accesses.</summary>
    public RequestView ToView()
    {
        var rows = new DescriptorRow[Descriptors.Length];
        for (int i = 0; i < rows.Length; i++)
        {
            Descriptor d = Descriptors[i];
            rows[i] = new DescriptorRow(i, d.Address, d.Length, FlagNames(d.Flags), i + 1 < rows.Length ? i + 1 : null, Hex?[i] ?? []);
        }
        return new RequestView
        {
            Queue = Queue,
            Id = Id,
            Type = Type is { } t && Enum.TryParse(t, out BlkRequestType type) ? RequestNames.Of(type) : Type ?? "unparsed",
            Sector = Sector,
            DataBytes = DataBytes,
            Segments = Segments,
            ChainError = ChainError.ToString(),
            Rejection = Rejection,
            Status = Status is { } s ? RequestNames.Status(s) : "in flight",
            UsedLength = UsedLength,
            PoppedAt = Number,
            CompletedAt = CompletedAs,
            Descriptors = rows,
        };
    }

    private static string FlagNames(DescriptorFlags flags)
    {
        var names = new List<string>(3);
        if ((flags & DescriptorFlags.Next) != 0)
        {
            names.Add("NEXT");
        }
        if ((flags & DescriptorFlags.Write) != 0)
        {
            names.Add("WRITE");
        }
        if ((flags & DescriptorFlags.Indirect) != 0)
        {
            names.Add("INDIRECT");
        }
        return names.Count == 0 ? "-" : string.Join('|', names);
    }
}
