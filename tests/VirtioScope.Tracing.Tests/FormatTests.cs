using VirtioScope.Tracing.Format;

namespace VirtioScope.Tracing.Tests;

public class FormatTests
{
    private static TraceEvent[] Samples() =>
    [
        new() { Kind = RecordKind.MmioRead, Address = 0x70, Length = 4, Value = 0xb },
        new() { Kind = RecordKind.MmioWrite, Address = 0x50, Length = 4, Value = 0 },
        new() { Kind = RecordKind.MmioReadUnvalued, Address = 0x104, Length = 0 },
        new() { Kind = RecordKind.GuestRead, Address = 0x4000_1000, Length = 3, Data = new byte[] { 1, 2, 3 } },
        new() { Kind = RecordKind.DeviceWrite, Address = 0x4000_2000, Length = 4, Hash = 0x1122334455667788 },
        new() { Kind = RecordKind.Interrupt, Value = 1 },
        new() { Kind = RecordKind.BackendIo, Code = (byte)BackendOp.Read, Address = 4096, Length = 4096, Hash = 42 },
        new() { Kind = RecordKind.BackendIo, Code = (byte)BackendOp.Flush },
        new() { Kind = RecordKind.Request, Queue = 1, Id = 7, Code = 0, Address = 8, Length = 4096, Segments = 1, Value = 0, Timestamp = 1234 },
        new() { Kind = RecordKind.Completion, Queue = 1, Id = 7, Code = 0, Value = 4097, Timestamp = 2345 },
        new() { Kind = RecordKind.Fault, Text = "queue 0: bad thing ü" },
        new() { Kind = RecordKind.QueueLimit, Value = 1024, Length = 1024 },
        new() { Kind = RecordKind.IrqLevel, Value = 1 },
        new() { Kind = RecordKind.Note, Text = "virtio_blk_handle_read: sector 0" },
    ];

    [Fact]
    public void Every_record_kind_round_trips_through_a_chunk()
    {
        var stream = new MemoryStream();
        TraceEvent[] samples = Samples();
        using (var w = new TraceWriter(stream, new TraceHeader { Description = "round trip" }, chunkTarget: 40))
        {
            foreach (TraceEvent e in samples)
            {
                w.Append(e);
            }
        }
        using TraceReader r = TraceReader.Open(new MemoryStream(stream.ToArray()));
        Assert.True(r.IsComplete);
        Assert.True(r.ChunkCount > 2);
        Assert.Equal("round trip", r.Header.Description);
        Assert.Equal(samples.Length, r.EventCount);
        for (int i = samples.Length - 1; i >= 0; i--)
        {
            TraceEvent got = r[i];
            Assert.Equal(i, got.Number);
            Assert.Equal(samples[i].Describe(), got.Describe());
            Assert.Equal(samples[i].Timestamp, got.Timestamp);
            Assert.True(samples[i].Data.Span.SequenceEqual(got.Data.Span));
        }
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(127UL)]
    [InlineData(128UL)]
    [InlineData(0x1234_5678_9abcUL)]
    [InlineData(ulong.MaxValue)]
    public void Varints_round_trip_and_report_a_cut(ulong value)
    {
        Span<byte> buffer = stackalloc byte[Varint.MaxBytes];
        int n = Varint.Write(buffer, value);
        int pos = 0;
        Assert.True(Varint.TryRead(buffer[..n], ref pos, out ulong back, "x"));
        Assert.Equal(value, back);
        Assert.Equal(n, pos);
        pos = 0;
        Assert.False(Varint.TryRead(buffer[..(n - 1)], ref pos, out _, "x"));
        Assert.Equal(0, pos);
    }

    [Fact]
    public void An_overlong_varint_is_invalid_data()
    {
        byte[] bad = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        int pos = 0;
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => Varint.TryRead(bad, ref pos, out _, "offset"));
        Assert.Contains("offset", e.Message);
    }

    [Fact]
    public void Cursor_steps_forward_and_back_across_chunks()
    {
        byte[] trace = TraceRig.Record(TraceRig.Options("randread", requests: 200, chunkTarget: 2048));
        using TraceReader reader = TraceRig.Open(trace);
        Assert.True(reader.ChunkCount > 5);
        var cursor = new TraceCursor(reader);
        var forward = new List<string>();
        while (cursor.MoveNext())
        {
            forward.Add(cursor.Current.ToString());
        }
        Assert.Equal(reader.EventCount, forward.Count);
        var backward = new List<string> { cursor.Current.ToString() };
        while (cursor.MovePrevious())
        {
            backward.Add(cursor.Current.ToString());
        }
        backward.Reverse();
        Assert.Equal(forward, backward);
        cursor.Seek(reader.EventCount / 2);
        Assert.True(cursor.MoveNextOf(RecordKind.Completion));
        Assert.Equal(RecordKind.Completion, cursor.Current.Kind);
        long at = cursor.Position;
        Assert.True(cursor.MovePreviousOf(RecordKind.Request));
        Assert.True(cursor.Position < at);
    }
}
