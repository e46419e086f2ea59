using VirtioScope.Block;

namespace VirtioScope.Tracing.Format;

/// <summary>Byte codes for request types, statuses and rejections in request and completion records.</summary>
public static class RequestCodes
{
    /// <summary>Code of a request type the device did not know.</summary>
    public const byte UnknownType = 0xff;

    private static readonly Dictionary<string, byte> TypeCodes = Enum.GetValues<BlkRequestType>().ToDictionary(t => t.ToString(), t => (byte)t);
    private static readonly Dictionary<string, int> RejectionCodes = Enum.GetValues<RequestRejection>().ToDictionary(r => r.ToString(), r => (int)r);

    /// <summary>Code for a request type name as the device's event reports it.</summary>
    public static byte TypeCode(string name) => TypeCodes.GetValueOrDefault(name, UnknownType);

    /// <summary>Code for a request type as the device parsed it (the same code <see cref="TypeCode(string)"/> gives its name).</summary>
    public static byte TypeCode(BlkRequestType type) => Enum.IsDefined(type) ? (byte)type : UnknownType;

    /// <summary>Name of a request type code.</summary>
    public static string TypeName(byte code) => code == UnknownType ? "unknown" : ((BlkRequestType)code).ToString();

    /// <summary>Code for a rejection name (0 when there was none).</summary>
    public static int RejectionCode(string? name) => name is null ? 0 : RejectionCodes.GetValueOrDefault(name);

    /// <summary>Name of a rejection code.</summary>
    public static string RejectionName(int code) => ((RequestRejection)code).ToString();

    /// <summary>Name of a completion status byte.</summary>
    public static string StatusName(byte status) => status switch
    {
        (byte)BlkStatus.Ok => "OK",
        (byte)BlkStatus.IoErr => "IOERR",
        (byte)BlkStatus.Unsupp => "UNSUPP",
        _ => $"0x{status:x2}",
    };
}
