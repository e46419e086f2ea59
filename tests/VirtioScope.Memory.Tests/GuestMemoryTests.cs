using VirtioScope.Memory;

namespace VirtioScope.Memory.Tests;

public class GuestMemoryTests
{
    private const ulong Base = 0x4000_0000;

    [Fact]
    public void Translate_gives_the_bytes_to_the_region_end()
    {
        using var m = GuestMemory.Create(Base, 0x10000);
        Assert.True(m.TryTranslate(Base + 0xff00, out Span<byte> span));
        Assert.Equal(0x100, span.Length);
        Assert.False(m.TryTranslate(Base + 0x10000, out _));
        Assert.False(m.TryTranslate(Base - 1, out _));
    }

    [Theory]
    [InlineData(Base - 1, 2, MemoryFaultKind.Unmapped)]
    [InlineData(Base + 0xffff, 2, MemoryFaultKind.CrossesRegionEnd)]
    [InlineData(0UL, 1, MemoryFaultKind.Unmapped)]
    [InlineData(ulong.MaxValue, 2, MemoryFaultKind.BadLength)]
    public void Out_of_sandbox_accesses_fault(ulong address, int length, MemoryFaultKind kind)
    {
        using var m = GuestMemory.Create(Base, 0x10000);
        Assert.Equal(kind, m.TryRead(address, new byte[length])?.Kind);
        Assert.Equal(kind, m.TryWrite(address, new byte[length])?.Kind);
        var ex = Assert.Throws<GuestMemoryFaultException>(() => m.ReadU16(address));
        Assert.Contains("0x", ex.Message);
    }

    [Fact]
    public void Access_may_not_cross_from_one_region_into_the_next()
    {
        using var m = new GuestMemory([GuestRegion.Allocate(Base, 0x1000), GuestRegion.Allocate(Base + 0x1000, 0x1000)]);
        Assert.Null(m.TryWrite(Base + 0xffc, new byte[4]));
        Assert.Equal(MemoryFaultKind.CrossesRegionEnd, m.TryWrite(Base + 0xffe, new byte[4])?.Kind);
        m.WriteU32(Base + 0x1000, 0xdeadbeef);
        Assert.Equal(0xdeadbeefu, m.ReadU32(Base + 0x1000));
    }

    [Fact]
    public void Overlapping_regions_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new GuestMemory([GuestRegion.Allocate(Base, 0x2000), GuestRegion.Allocate(Base + 0x1000, 0x1000)]));
    }

    [Fact]
    public void Little_endian_accessors_round_trip()
    {
        using var m = GuestMemory.Create(Base, 0x1000);
        m.WriteU64(Base, 0x0102030405060708);
        Assert.Equal(0x08, m.ReadSpan(Base, 1)[0]);
        Assert.Equal(0x0102030405060708UL, m.ReadU64(Base));
        m.WriteU16(Base + 10, 0xbeef);
        Assert.Equal(0xbeef, m.ReadU16(Base + 10));
    }

    [Fact]
    public void Write_log_records_pages_written_through_its_view_only()
    {
        using var m = GuestMemory.Create(Base, 0x10000);
        GuestMemory device = m.CreateView();
        device.EnableWriteLog();
        m.WriteU32(Base, 1); // the guest's own write: not logged
        device.Write(Base + 0x1ffe, new byte[4]); // spans pages 1 and 2
        device.WriteU16(Base + 0x5000, 7);
        IReadOnlyList<GuestRange> ranges = device.WriteLog!.Drain();
        Assert.Equal([new GuestRange(Base + 0x1000, 0x2000), new GuestRange(Base + 0x5000, 0x1000)], ranges);
        Assert.Empty(device.WriteLog.Drain());
        Assert.Equal(7, m.ReadU16(Base + 0x5000));
    }

    [Fact]
    public void Views_do_not_free_shared_regions()
    {
        using var m = GuestMemory.Create(Base, 0x1000);
        using (GuestMemory view = m.CreateView())
        {
            view.WriteU32(Base, 5);
        }
        Assert.Equal(5u, m.ReadU32(Base));
    }

    [Fact]
    public void Wrapping_region_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => GuestRegion.Allocate(ulong.MaxValue - 10, 0x1000));
    }
}
