namespace VirtioScope.Guest.Rings;

/// <summary>How the hostile workload places a chain behind one indirect ring descriptor.</summary>
internal readonly record struct RawIndirect(bool Use, ulong TableAddr, ulong RingAddr, uint RingLen, ushort ExtraFlags);
