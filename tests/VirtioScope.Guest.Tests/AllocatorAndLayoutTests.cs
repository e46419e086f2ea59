using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VirtioScope.Guest.Rings;

namespace VirtioScope.Guest.Tests;

public sealed class AllocatorAndLayoutTests
{
    [Fact]
    public void AllocationsAreAlignedAndExhaustionIsClear()
    {
        var a = new GuestAllocator(0x1000_0003, 0x1000);
        ulong x = a.Allocate(10, 16);
        Assert.Equal(0x1000_0010UL, x);
        ulong y = a.Allocate(1, 4096);
        Assert.Equal(0UL, y % 4096);
        Assert.True(y >= x + 10);
        var e = Assert.Throws<GuestDriverException>(() => a.Allocate(0x1000, 1));
        Assert.Contains("exhausted", e.Message, StringComparison.Ordinal);
        a.Reset();
        Assert.Equal(0UL, a.Used);
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Allocate(1, 3));
    }

    [Property]
    public Property AllocationsNeverOverlapOrLeaveTheRange(NonEmptyArray<PositiveInt> sizes, byte alignShift)
    {
        ulong align = 1UL << (alignShift % 13);
        var a = new GuestAllocator(0x4000_0000, 1 << 20);
        ulong end = 0x4000_0000;
        bool ok = true;
        foreach (PositiveInt s in sizes.Get)
        {
            ulong size = (ulong)(s.Get % 5000);
            ulong at;
            try
            {
                at = a.Allocate(size, align);
            }
            catch (GuestDriverException)
            {
                break;
            }
            ok &= at % align == 0 && at >= end && at + size <= 0x4000_0000 + (1 << 20);
            end = at + size;
        }
        return ok.ToProperty();
    }

    [Fact]
    public void SplitLayoutMatchesTheSpecTable()
    {
        var l = new SplitRingLayout(256);
        Assert.Equal(4096, l.DescriptorTableBytes);
        Assert.Equal(6 + 512, l.AvailRingBytes);
        Assert.Equal(6 + 2048, l.UsedRingBytes);
        Assert.Equal(4 + 512, l.UsedEventOffset);
        Assert.Equal(4 + 2048, l.AvailEventOffset);
        // Legacy: ALIGN(16*256 + 2*(3+256)) + ALIGN(2*3 + 8*256) with 4096 alignment (section 2.7.2 legacy interface).
        Assert.Equal(8192, l.LegacyUsedOffset(4096));
        Assert.Equal(8192 + 4096, l.LegacyTotalBytes(4096));
        var small = new SplitRingLayout(16);
        Assert.Equal(4096, small.LegacyUsedOffset(4096));
        Assert.Equal(8192, small.LegacyTotalBytes(4096));
    }

    [Property]
    public Property LegacyUsedRingIsAlignedAndAfterTheAvailRing(byte sizeShift, byte alignShift)
    {
        int size = 1 << (sizeShift % 16);
        int align = 1 << (2 + (alignShift % 11));
        var l = new SplitRingLayout(size);
        int used = l.LegacyUsedOffset(align);
        return (used % align == 0
            && used >= l.DescriptorTableBytes + l.AvailRingBytes
            && used - (l.DescriptorTableBytes + l.AvailRingBytes) < align
            && l.LegacyTotalBytes(align) >= used + l.UsedRingBytes).ToProperty();
    }

    [Fact]
    public void PackedLayout()
    {
        var l = new PackedRingLayout(100);
        Assert.Equal(1600, l.DescriptorRingBytes);
        Assert.Equal((ushort)0x8005, PackedRingLayout.OffWrap(5, true));
        Assert.Equal((ushort)5, PackedRingLayout.OffWrap(5, false));
    }

    [Property]
    public Property NeedEventIsTrueExactlyWhenTheEventWasCrossed(ushort oldIdx, byte added, ushort eventIdx)
    {
        var newIdx = (ushort)(oldIdx + added);
        // Crossed: event_idx is one of old .. new-1 (the entries just published, as 16-bit indices).
        bool crossed = false;
        for (int i = 0; i < added; i++)
        {
            crossed |= (ushort)(oldIdx + i) == eventIdx;
        }
        return (RingFlags.NeedEvent(eventIdx, newIdx, oldIdx) == crossed).ToProperty();
    }
}
