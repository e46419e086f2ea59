using VirtioScope.Block;

namespace VirtioScope.Guest;

/// <summary>A finished request as the driver saw it come back.</summary>
/// <param name="Queue">Request queue index.</param>
/// <param name="Slot">Request slot within the queue.</param>
/// <param name="Tag">The caller's tag given at submission.</param>
/// <param name="Type">Request type as written in the header.</param>
/// <param name="Sector">Header sector.</param>
/// <param name="DataLength">Bytes of data the request carried or asked for.</param>
/// <param name="Status">The status byte; <see cref="NotWritten"/> if the device never wrote it.</param>
/// <param name="UsedLength">Bytes the device says it wrote (the used element's len).</param>
/// <param name="Aborted">The request was abandoned by a device reset before it completed.</param>
public readonly record struct BlkCompletion(
    int Queue, int Slot, ulong Tag, BlkRequestType Type, ulong Sector, int DataLength, BlkStatus Status, uint UsedLength, bool Aborted)
{
    /// <summary>Sentinel the driver puts in the status byte before submission.</summary>
    public const BlkStatus NotWritten = (BlkStatus)0xff;

    /// <summary>Whether the device wrote a status byte.</summary>
    public bool StatusWritten => !Aborted && Status != NotWritten;

    /// <summary>Whether the request succeeded.</summary>
    public bool IsOk => !Aborted && Status == BlkStatus.Ok;
}

/// <summary>Receives completions from <see cref="BlkQueue.ProcessCompletions"/>; implemented by a long-lived object so no per-request delegate is allocated.</summary>
public interface IBlkCompletionHandler
{
    /// <summary>
    /// Called once per finished request. <paramref name="data"/> is the request's data buffer in guest memory (what a
    /// read or GET_ID returned); it is valid only during the call, after which the slot is free again.
    /// </summary>
    void OnCompleted(in BlkCompletion completion, ReadOnlySpan<byte> data);
}

/// <summary>One range of a discard or write-zeroes request (le64 sector, le32 num_sectors, le32 flags).</summary>
/// <param name="Sector">First sector.</param>
/// <param name="SectorCount">Number of sectors.</param>
/// <param name="Flags">Bit 0: unmap (write-zeroes only).</param>
public readonly record struct BlkSegment(ulong Sector, uint SectorCount, uint Flags = 0);
