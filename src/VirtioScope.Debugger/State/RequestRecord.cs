using VirtioScope.Virtio.Queues;

namespace VirtioScope.Debugger;

/// <summary>What the session saw of one request: its chain, the decoded request, and its completion.</summary>
public sealed class RequestRecord
{
    internal RequestRecord(int queue, ushort id, long poppedAt, Descriptor[] descriptors, ChainError error)
    {
        Queue = queue;
        Id = id;
        PoppedAt = poppedAt;
        Descriptors = descriptors;
        ChainError = error;
    }

    /// <summary>Queue index.</summary>
    public int Queue { get; }

    /// <summary>Chain head id.</summary>
    public ushort Id { get; }

    /// <summary>Register access during which the device popped the chain.</summary>
    public long PoppedAt { get; }

    /// <summary>The chain's descriptors in order (indirect tables resolved).</summary>
    public IReadOnlyList<Descriptor> Descriptors { get; }

    /// <summary>What was wrong with the chain, if anything.</summary>
    public ChainError ChainError { get; }

    /// <summary>Request type as the device parsed it (null until parsed).</summary>
    public string? Type { get; internal set; }

    /// <summary>Header sector.</summary>
    public ulong Sector { get; internal set; }

    /// <summary>Data bytes.</summary>
    public uint DataBytes { get; internal set; }

    /// <summary>Data segments.</summary>
    public int Segments { get; internal set; }

    /// <summary>Why the device refused the request, if it did.</summary>
    public string? Rejection { get; internal set; }

    /// <summary>Completion status byte (null until completed).</summary>
    public byte? Status { get; internal set; }

    /// <summary>Used length the device reported.</summary>
    public uint? UsedLength { get; internal set; }

    /// <summary>Register access during which the request completed.</summary>
    public long? CompletedAt { get; internal set; }
}
