namespace VirtioScope.Virtio.Queues;

/// <summary>
/// A chain popped from a queue: its head (the id the device returns), how many ring slots it took, its descriptors
/// (indirect tables flattened) and any <see cref="ChainError"/>. One instance per queue is reused for every pop, so
/// popping allocates nothing; read it before the next pop.
/// </summary>
public sealed class DescriptorChain
{
    private readonly Descriptor[] _descriptors;

    /// <summary>Creates a buffer for chains of up to <paramref name="capacity"/> descriptors.</summary>
    public DescriptorChain(int capacity) => _descriptors = new Descriptor[capacity];

    /// <summary>The id returned in the used ring: the head index (split) or the buffer id (packed).</summary>
    public ushort Id { get; internal set; }

    /// <summary>Ring slots the chain occupies (packed rings advance by this; 1 for an indirect chain).</summary>
    public ushort RingSlots { get; internal set; }

    /// <summary>Number of descriptors collected.</summary>
    public int Count { get; internal set; }

    /// <summary>Why the chain is malformed, or <see cref="ChainError.None"/>.</summary>
    public ChainError Error { get; internal set; }

    /// <summary>
    /// Whether the end of the chain is known despite an error (a wrong flag, say), so the device can still find
    /// the status byte. Loops, bad links and unreadable indirect tables leave it unknown.
    /// </summary>
    public bool EndKnown => IsEndKnown(Error);

    /// <summary>Whether the chain came (partly) from an indirect table.</summary>
    public bool UsedIndirect { get; internal set; }

    /// <summary>Maximum number of descriptors.</summary>
    public int Capacity => _descriptors.Length;

    /// <summary>The descriptors collected, in chain order.</summary>
    public ReadOnlySpan<Descriptor> Descriptors => _descriptors.AsSpan(0, Count);

    internal void Reset(ushort id)
    {
        Id = id;
        RingSlots = 0;
        Count = 0;
        Error = ChainError.None;
        UsedIndirect = false;
    }

    /// <summary>Appends a descriptor; false (and <see cref="ChainError.TooLong"/>) when full.</summary>
    internal bool TryAdd(in Descriptor d)
    {
        if (Count == _descriptors.Length)
        {
            Fail(ChainError.TooLong);
            return false;
        }
        if (!d.IsWriteOnly && Count > 0 && _descriptors[Count - 1].IsWriteOnly)
        {
            Fail(ChainError.ReadableAfterWritable);
        }
        _descriptors[Count++] = d;
        return true;
    }

    /// <summary>
    /// Records the first error, except that an error which loses the chain's end (a loop, a bad link) replaces one
    /// that did not: it decides whether a status byte may be written.
    /// </summary>
    internal void Fail(ChainError error)
    {
        if (Error == ChainError.None || (EndKnown && !IsEndKnown(error)))
        {
            Error = error;
        }
    }

    private static bool IsEndKnown(ChainError e) => e is ChainError.None or ChainError.NestedIndirect or ChainError.IndirectWithNext
        or ChainError.ReadableAfterWritable or ChainError.IndirectNotNegotiated or ChainError.LongerThanQueue;
}
