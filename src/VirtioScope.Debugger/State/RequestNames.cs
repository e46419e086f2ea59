using VirtioScope.Block;

namespace VirtioScope.Debugger;

/// <summary>Names of virtio-blk request types and statuses as the debugger prints them.</summary>
public static class RequestNames
{
    /// <summary>Lower-case name of a request type (in, out, flush, get-id, discard, write-zeroes, ...).</summary>
    public static string Of(BlkRequestType type) => type switch
    {
        BlkRequestType.In => "in",
        BlkRequestType.Out => "out",
        BlkRequestType.Flush => "flush",
        BlkRequestType.GetId => "get-id",
        BlkRequestType.GetLifetime => "get-lifetime",
        BlkRequestType.Discard => "discard",
        BlkRequestType.WriteZeroes => "write-zeroes",
        BlkRequestType.SecureErase => "secure-erase",
        _ => $"type-{(uint)type}",
    };

    /// <summary>Name of a completion status byte.</summary>
    public static string Status(byte status) => status switch
    {
        0 => "OK",
        1 => "IOERR",
        2 => "UNSUPP",
        0xff => "not written",
        _ => $"0x{status:x2}",
    };
}
