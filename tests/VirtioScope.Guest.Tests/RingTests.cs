using VirtioScope.Guest.Rings;
using VirtioScope.Memory;

namespace VirtioScope.Guest.Tests;

public sealed class RingTests : IDisposable
{
    private const ulong Base = GuestMemory.DefaultBase;
    private readonly GuestMemory _memory = GuestMemory.Create(Base, 1 << 20);
    private readonly GuestArena _arena;
    private readonly GuestAllocator _allocator = new(Base, 1 << 20);

    public RingTests() => _arena = new GuestArena(_memory, Base, 1 << 20);

    public void Dispose() => _memory.Dispose();

    private static ChainDesc[] ThreeDescriptors() =>
    [
        new(Base + 0x8000, 16, RingFlags.DescNext),
        new(Base + 0x9000, 512, RingFlags.DescNext | RingFlags.DescWrite),
        new(Base + 0x8010, 1, RingFlags.DescWrite),
    ];

    [Fact]
    public void SplitAddWritesLinkedDescriptorsAndPublishes()
    {
        var q = new SplitVirtqueue(_arena, _allocator, 0, 16, eventIdx: true, legacy: false);
        Assert.True(q.TryAddDirect(7, ThreeDescriptors()));
        Assert.Equal(13, q.FreeDescriptors);
        Assert.Equal(1, _memory.ReadU16(q.DriverAddr + 2));
        ushort head = _memory.ReadU16(q.DriverAddr + 4);
        ulong d = q.DescAddr + (ulong)(head * 16);
        Assert.Equal(Base + 0x8000, _memory.ReadU64(d));
        Assert.Equal(16u, _memory.ReadU32(d + 8));
        Assert.Equal(RingFlags.DescNext, _memory.ReadU16(d + 12));
        ushort second = _memory.ReadU16(d + 14);
        ulong d2 = q.DescAddr + (ulong)(second * 16);
        Assert.Equal(512u, _memory.ReadU32(d2 + 8));
        ushort third = _memory.ReadU16(d2 + 14);
        Assert.Equal(RingFlags.DescWrite, _memory.ReadU16(q.DescAddr + (ulong)(third * 16) + 12));
    }

    [Fact]
    public void SplitKickHonoursAvailEvent()
    {
        var q = new SplitVirtqueue(_arena, _allocator, 0, 32, eventIdx: true, legacy: false);
        ulong availEvent = q.DeviceAddr + 4 + (8 * 32);
        q.TryAddDirect(1, ThreeDescriptors());
        Assert.True(q.PrepareKick());
        // The device asks to be told once the entry at avail index 5 is published (avail->idx moves past 5).
        _memory.WriteU16(availEvent, 5);
        q.TryAddDirect(2, ThreeDescriptors());
        Assert.False(q.PrepareKick());
        q.TryAddDirect(3, ThreeDescriptors());
        q.TryAddDirect(4, ThreeDescriptors());
        q.TryAddDirect(5, ThreeDescriptors());
        Assert.False(q.PrepareKick());
        q.TryAddDirect(6, ThreeDescriptors());
        q.TryAddDirect(7, ThreeDescriptors());
        Assert.True(q.PrepareKick());
    }

    [Fact]
    public void SplitKickHonoursNoNotifyWithoutEventIdx()
    {
        var q = new SplitVirtqueue(_arena, _allocator, 0, 16, eventIdx: false, legacy: false);
        q.TryAddDirect(1, ThreeDescriptors());
        Assert.True(q.PrepareKick());
        _memory.WriteU16(q.DeviceAddr, RingFlags.UsedNoNotify);
        q.TryAddDirect(2, ThreeDescriptors());
        Assert.False(q.PrepareKick());
    }

    [Fact]
    public void SplitReapReturnsTokensFreesDescriptorsAndPublishesUsedEvent()
    {
        var q = new SplitVirtqueue(_arena, _allocator, 0, 16, eventIdx: true, legacy: false);
        q.TryAddDirect(11, ThreeDescriptors());
        q.TryAddDirect(12, ThreeDescriptors());
        ushort head0 = _memory.ReadU16(q.DriverAddr + 4);
        ushort head1 = _memory.ReadU16(q.DriverAddr + 6);
        // The device completes the second chain first.
        _memory.WriteU32(q.DeviceAddr + 4, head1);
        _memory.WriteU32(q.DeviceAddr + 8, 513);
        _memory.WriteU32(q.DeviceAddr + 12, head0);
        _memory.WriteU32(q.DeviceAddr + 16, 1);
        _memory.WriteU16(q.DeviceAddr + 2, 2);
        var used = new UsedEntry[16];
        Assert.Equal(2, q.Reap(used));
        Assert.Equal(new UsedEntry(12, 513), used[0]);
        Assert.Equal(new UsedEntry(11, 1), used[1]);
        Assert.Equal(16, q.FreeDescriptors);
        Assert.Equal(2, _memory.ReadU16(q.DriverAddr + 4 + (2 * 16)));
        Assert.Null(q.Fault);
    }

    [Fact]
    public void SplitReapFlagsBadIdsAndIndexJumps()
    {
        var q = new SplitVirtqueue(_arena, _allocator, 0, 16, eventIdx: false, legacy: false);
        q.TryAddDirect(1, ThreeDescriptors());
        _memory.WriteU32(q.DeviceAddr + 4, 9);
        _memory.WriteU16(q.DeviceAddr + 2, 1);
        Assert.Equal(0, q.Reap(new UsedEntry[16]));
        Assert.Contains("used id 9", q.Fault, StringComparison.Ordinal);
        q.Clear();
        _memory.WriteU16(q.DeviceAddr + 2, 40);
        Assert.Equal(0, q.Reap(new UsedEntry[16]));
        Assert.Contains("more than the queue size", q.Fault, StringComparison.Ordinal);
    }

    [Fact]
    public void SplitRingRunsOutOfDescriptorsInsteadOfOverwriting()
    {
        var q = new SplitVirtqueue(_arena, _allocator, 0, 4, eventIdx: false, legacy: false);
        Assert.True(q.TryAddDirect(1, ThreeDescriptors()));
        Assert.False(q.TryAddDirect(2, ThreeDescriptors()));
        Assert.True(q.TryAddIndirect(2, ThreeDescriptors(), Base + 0xa000, Base + 0xa000, 48, 0));
        Assert.Equal(0, q.FreeDescriptors);
        Assert.Equal(RingFlags.DescIndirect, _memory.ReadU16(q.DescAddr + (3 * 16) + 12));
        // The indirect table links its entries through next, in split format.
        Assert.Equal(1, _memory.ReadU16(Base + 0xa000 + 14));
        Assert.Equal(2, _memory.ReadU16(Base + 0xa000 + 16 + 14));
    }

    [Fact]
    public void PackedAddSetsAvailUsedBitsAndIds()
    {
        var q = new PackedVirtqueue(_arena, _allocator, 0, 4, eventIdx: false, maxTokens: 4);
        Assert.True(q.TryAddDirect(3, ThreeDescriptors()));
        for (int i = 0; i < 3; i++)
        {
            ushort flags = _memory.ReadU16(q.DescAddr + (ulong)(i * 16) + 14);
            Assert.Equal(RingFlags.PackedAvail, flags & (RingFlags.PackedAvail | RingFlags.PackedUsed));
            Assert.Equal(3, _memory.ReadU16(q.DescAddr + (ulong)(i * 16) + 12));
        }
        Assert.Equal(1, q.FreeDescriptors);
        Assert.False(q.TryAddDirect(1, ThreeDescriptors()));
    }

    [Fact]
    public void PackedReapFollowsTheUsedWrapCounterAcrossLaps()
    {
        var q = new PackedVirtqueue(_arena, _allocator, 0, 4, eventIdx: true, maxTokens: 4);
        var used = new UsedEntry[4];
        q.TryAddDirect(0, ThreeDescriptors());
        MarkUsed(q, 0, id: 0, len: 1, wrap: true);
        Assert.Equal(1, q.Reap(used));
        Assert.Equal(new UsedEntry(0, 1), used[0]);
        // Driver event suppression now points at descriptor 3 of lap 1.
        Assert.Equal(PackedRingLayout.OffWrap(3, true), _memory.ReadU16(q.DriverAddr));
        Assert.Equal(RingFlags.EventDesc, _memory.ReadU16(q.DriverAddr + 2));
        // The next chain starts at 3 and wraps to 0 and 1: the wrapped ones carry AVAIL=0, USED=1.
        q.TryAddDirect(1, ThreeDescriptors());
        Assert.Equal(RingFlags.PackedAvail, _memory.ReadU16(q.DescAddr + (3 * 16) + 14) & (RingFlags.PackedAvail | RingFlags.PackedUsed));
        Assert.Equal(RingFlags.PackedUsed, _memory.ReadU16(q.DescAddr + 14) & (RingFlags.PackedAvail | RingFlags.PackedUsed));
        MarkUsed(q, 3, id: 1, len: 7, wrap: true);
        Assert.Equal(1, q.Reap(used));
        Assert.Equal(new UsedEntry(1, 7), used[0]);
        Assert.Equal(PackedRingLayout.OffWrap(2, false), _memory.ReadU16(q.DriverAddr));
        Assert.False(q.HasUsed);
    }

    [Fact]
    public void PackedKickHonoursDeviceEventSuppression()
    {
        var q = new PackedVirtqueue(_arena, _allocator, 0, 8, eventIdx: true, maxTokens: 8);
        q.TryAddDirect(0, ThreeDescriptors());
        Assert.True(q.PrepareKick());
        _memory.WriteU16(q.DeviceAddr + 2, RingFlags.EventDisable);
        q.TryAddDirect(1, ThreeDescriptors());
        Assert.False(q.PrepareKick());
        // Notify when descriptor 7 of lap 1 is made available.
        _memory.WriteU16(q.DeviceAddr, PackedRingLayout.OffWrap(7, true));
        _memory.WriteU16(q.DeviceAddr + 2, RingFlags.EventDesc);
        MarkUsed(q, 0, 0, 1, true);
        MarkUsed(q, 3, 1, 1, true);
        q.Reap(new UsedEntry[8]);
        q.TryAddDirect(2, ThreeDescriptors().AsSpan(0, 1));
        Assert.False(q.PrepareKick());
        q.TryAddDirect(3, ThreeDescriptors());
        Assert.True(q.PrepareKick());
    }

    [Fact]
    public void PackedReapFlagsUnknownBufferIds()
    {
        var q = new PackedVirtqueue(_arena, _allocator, 0, 4, eventIdx: false, maxTokens: 4);
        q.TryAddDirect(0, ThreeDescriptors());
        MarkUsed(q, 0, id: 2, len: 1, wrap: true);
        Assert.Equal(0, q.Reap(new UsedEntry[4]));
        Assert.Contains("buffer id 2", q.Fault, StringComparison.Ordinal);
    }

    private void MarkUsed(PackedVirtqueue q, int position, ushort id, uint len, bool wrap)
    {
        ulong d = q.DescAddr + (ulong)(position * 16);
        _memory.WriteU32(d + 8, len);
        _memory.WriteU16(d + 12, id);
        _memory.WriteU16(d + 14, wrap ? (ushort)(RingFlags.PackedAvail | RingFlags.PackedUsed) : (ushort)0);
    }
}
