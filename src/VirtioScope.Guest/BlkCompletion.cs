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
