// Member names are the protocol's own (QEMU docs/interop/vhost-user.rst, "Front-end message types").
#pragma warning disable CS1591

namespace VirtioScope.VhostUser.Protocol;

/// <summary>Front-end request codes of the vhost-user protocol.</summary>
public enum VhostUserRequest : uint
{
    None = 0,
    GetFeatures = 1,
    SetFeatures = 2,
    SetOwner = 3,
    ResetOwner = 4,
    SetMemTable = 5,
    SetLogBase = 6,
    SetLogFd = 7,
    SetVringNum = 8,
    SetVringAddr = 9,
    SetVringBase = 10,
    GetVringBase = 11,
    SetVringKick = 12,
    SetVringCall = 13,
    SetVringErr = 14,
    GetProtocolFeatures = 15,
    SetProtocolFeatures = 16,
    GetQueueNum = 17,
    SetVringEnable = 18,
    SendRarp = 19,
    NetSetMtu = 20,
    SetBackendReqFd = 21,
    IotlbMsg = 22,
    SetVringEndian = 23,
    GetConfig = 24,
    SetConfig = 25,
    GetInflightFd = 31,
    SetInflightFd = 32,
    ResetDevice = 34,
    VringKick = 35,
    GetMaxMemSlots = 36,
    AddMemReg = 37,
    RemMemReg = 38,
    SetStatus = 39,
    GetStatus = 40,
}

/// <summary>Protocol feature bits (GET/SET_PROTOCOL_FEATURES), as 64-bit masks.</summary>
public static class ProtocolFeatures
{
    public const ulong Mq = 1UL << 0;
    public const ulong LogShmfd = 1UL << 1;
    public const ulong ReplyAck = 1UL << 3;
    public const ulong Config = 1UL << 9;
    public const ulong ResetDevice = 1UL << 13;
    public const ulong ConfigureMemSlots = 1UL << 15;

    /// <summary>What this back-end implements.</summary>
    public const ulong Supported = Mq | ReplyAck | Config | ResetDevice | ConfigureMemSlots;
}

/// <summary>Constants of the vhost-user wire format.</summary>
public static class VhostUserWire
{
    /// <summary>Bytes of the message header: u32 request, u32 flags, u32 size.</summary>
    public const int HeaderSize = 12;

    /// <summary>The protocol version carried in the low two flag bits.</summary>
    public const uint Version = 1;

    public const uint VersionMask = 0x3;
    public const uint ReplyFlag = 0x4;
    public const uint NeedReplyFlag = 0x8;

    /// <summary>
    /// Largest payload this back-end accepts. The biggest message it handles is a 256-byte config access (268 bytes)
    /// or an 8-region memory table (264); anything beyond 4 KiB is malformed rather than unknown.
    /// </summary>
    public const int MaxPayload = 4096;

    /// <summary>Most file descriptors one message may carry (the 8 regions of SET_MEM_TABLE).</summary>
    public const int MaxFds = 8;

    /// <summary>Feature bit 30: the back-end speaks GET/SET_PROTOCOL_FEATURES.</summary>
    public const ulong ProtocolFeaturesBit = 1UL << 30;

    /// <summary>Vring file messages: bits 0-7 index, bit 8 "no file descriptor".</summary>
    public const ulong VringIndexMask = 0xff;

    public const ulong VringNoFdFlag = 0x100;

    /// <summary>Regions SET_MEM_TABLE can carry.</summary>
    public const int MemTableRegions = 8;

    /// <summary>Memory slots offered through GET_MAX_MEM_SLOTS (ADD/REM_MEM_REG).</summary>
    public const int MaxMemSlots = 32;

    /// <summary>Largest device configuration access.</summary>
    public const int MaxConfigSize = 256;
}
