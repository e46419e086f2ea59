using System.Globalization;
using VirtioScope.Block;

namespace VirtioScope.Debugger.Sources;

/// <summary>A request composed by hand in the debugger, submitted by the guest at its next opportunity.</summary>
/// <param name="Type">Request type: in, out, flush, get-id, discard or write-zeroes.</param>
/// <param name="Sector">First sector.</param>
/// <param name="Count">Sectors (512 bytes each); ignored by flush and get-id.</param>
/// <param name="Pattern">Byte that fills the buffer of a write.</param>
/// <param name="Queue">Request queue.</param>
public sealed record ComposedRequest(BlkRequestType Type, ulong Sector, uint Count, byte Pattern, int Queue)
{
    /// <summary>The request types a composed request may have, by the names the command language uses.</summary>
    public static IReadOnlyDictionary<string, BlkRequestType> TypeNames { get; } = new Dictionary<string, BlkRequestType>(StringComparer.OrdinalIgnoreCase)
    {
        ["in"] = BlkRequestType.In, ["read"] = BlkRequestType.In,
        ["out"] = BlkRequestType.Out, ["write"] = BlkRequestType.Out,
        ["flush"] = BlkRequestType.Flush, ["get-id"] = BlkRequestType.GetId,
        ["discard"] = BlkRequestType.Discard, ["write-zeroes"] = BlkRequestType.WriteZeroes,
    };

    /// <summary>Most sectors one composed read or write may carry (the guest's request buffer).</summary>
    public const uint MaxDataSectors = 128;

    /// <summary>Text form, the same one <c>compose</c> accepts.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{RequestNames.Of(Type)} sector {Sector} count {Count} pattern 0x{Pattern:x2} queue {Queue}");
}
