namespace VirtioScope.Guest.Rings;

/// <summary>
/// One descriptor of a chain the driver is about to add: address, length and flags as they go into the ring (the
/// ring's avail/used bits are added by the ring). <see cref="Link"/> overrides where a split descriptor's next field
/// points, which only the hostile workload uses: -1 means "the next descriptor of this chain".
/// </summary>
internal struct ChainDesc
{
    public ulong Addr;
    public uint Len;
    public ushort Flags;

    /// <summary>-1: natural next. Otherwise an index into this chain, or (with <see cref="LinkAbsolute"/>) a raw table index.</summary>
    public int Link;

    public bool LinkAbsolute;

    public ChainDesc(ulong addr, uint len, ushort flags)
    {
        Addr = addr;
        Len = len;
        Flags = flags;
        Link = -1;
        LinkAbsolute = false;
    }
}
