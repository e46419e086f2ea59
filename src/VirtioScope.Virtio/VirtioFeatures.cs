// Member names are the specification's own; the type documentation cites the section that defines them.
#pragma warning disable CS1591

namespace VirtioScope.Virtio;

/// <summary>Device-independent feature bits (VirtIO 1.2 section 6), as 64-bit masks.</summary>
public static class VirtioFeatures
{
    public const ulong RingIndirectDesc = 1UL << 28;
    public const ulong RingEventIdx = 1UL << 29;
    public const ulong Version1 = 1UL << 32;
    public const ulong AccessPlatform = 1UL << 33;
    public const ulong RingPacked = 1UL << 34;
    public const ulong InOrder = 1UL << 35;
    public const ulong OrderPlatform = 1UL << 36;
    public const ulong NotificationData = 1UL << 38;
    public const ulong RingReset = 1UL << 40;
}
