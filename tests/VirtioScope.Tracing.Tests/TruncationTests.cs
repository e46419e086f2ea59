using System.Buffers.Binary;
using VirtioScope.Tracing.Format;

namespace VirtioScope.Tracing.Tests;

public class TruncationTests
{
    private static readonly byte[] Trace = TraceRig.Record(TraceRig.Options("randrw", requests: 12, chunkTarget: 1024));

    private static int DataStart()
    {
        return TraceLayout.FileHeaderSize + (int)BinaryPrimitives.ReadUInt32LittleEndian(Trace.AsSpan(TraceLayout.FileJsonLengthOffset));
    }

    [Fact]
    public void A_trace_cut_anywhere_reads_up_to_its_last_complete_chunk()
    {
        using TraceReader full = TraceRig.Open(Trace);
        Assert.True(full.IsComplete);
        string[] all = [.. full.Events().Select(e => e.ToString())];
        // Event counts a cut may leave: the events of the first k complete chunks.
        var possible = new HashSet<long> { 0 };
        for (int i = 0; i < full.ChunkCount; i++)
        {
            possible.Add(i + 1 < full.ChunkCount ? full.ChunkFirstEvent(i + 1) : full.EventCount);
        }
        int start = DataStart();
        long previous = 0;
        int cuts = 0;
        for (int cut = start; cut < Trace.Length; cut += cut % 5 == 0 ? 1 : 3)
        {
            using TraceReader r = TraceRig.Open(Trace[..cut]);
            Assert.False(r.IsComplete);
            Assert.NotNull(r.TruncationNote);
            Assert.True(r.EventCount >= previous, $"cut at {cut}: {r.EventCount} events after {previous}");
            Assert.Contains(r.EventCount, possible);
            string[] got = [.. r.Events().Select(e => e.ToString())];
            Assert.Equal(all.Take(got.Length), got);
            previous = r.EventCount;
            cuts++;
        }
        Assert.Equal(full.EventCount, previous);
        Assert.True(cuts > 100);
    }

    [Fact]
    public void A_cut_at_each_chunk_boundary_keeps_exactly_the_chunks_before_it()
    {
        using TraceReader full = TraceRig.Open(Trace);
        long offset = DataStart();
        for (int i = 0; i < full.ChunkCount; i++)
        {
            uint compressed = BinaryPrimitives.ReadUInt32LittleEndian(Trace.AsSpan((int)offset + TraceLayout.ChunkCompressedLengthOffset));
            offset += TraceLayout.ChunkHeaderSize + compressed;
            using TraceReader r = TraceRig.Open(Trace[..(int)offset]);
            long expected = i + 1 < full.ChunkCount ? full.ChunkFirstEvent(i + 1) : full.EventCount;
            Assert.Equal(expected, r.EventCount);
            Assert.Equal(full[expected - 1].ToString(), r[expected - 1].ToString());
        }
    }

    [Fact]
    public void A_file_shorter_than_the_header_is_end_of_stream()
    {
        EndOfStreamException e = Assert.Throws<EndOfStreamException>(() => TraceRig.Open(Trace[..10]));
        Assert.Contains("header", e.Message);
        Assert.Throws<EndOfStreamException>(() => TraceRig.Open(Trace[..(TraceLayout.FileHeaderSize + 3)]));
    }

    [Theory]
    [InlineData(0, "magic")]
    [InlineData(TraceLayout.FileVersionOffset, "version")]
    [InlineData(TraceLayout.FileHeaderSize + 2, "header")]
    public void A_damaged_header_is_invalid_data_naming_the_field(int offset, string field)
    {
        byte[] bad = (byte[])Trace.Clone();
        bad[offset] ^= 0x5a;
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => TraceRig.Open(bad));
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void A_damaged_chunk_payload_is_a_crc_error_naming_the_chunk()
    {
        byte[] bad = (byte[])Trace.Clone();
        int chunk = DataStart();
        bad[chunk + TraceLayout.ChunkHeaderSize + 5] ^= 0x01;
        using TraceReader r = TraceRig.Open(bad);
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => r.Events().Count());
        Assert.Contains($"chunk at offset {chunk}", e.Message);
        Assert.Contains("CRC", e.Message);
    }

    [Fact]
    public void A_damaged_chunk_magic_is_invalid_data()
    {
        byte[] bad = (byte[])Trace.Clone();
        bad[DataStart()] ^= 0xff;
        using TraceReader r = TraceRig.Open(bad);
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => r[0]);
        Assert.Contains("magic", e.Message);
    }

    [Fact]
    public void A_damaged_index_is_a_footer_crc_error()
    {
        byte[] bad = (byte[])Trace.Clone();
        bad[^(TraceLayout.FooterSize + 3)] ^= 0x10;
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => TraceRig.Open(bad));
        Assert.Contains("footer", e.Message);
    }

    [Fact]
    public void A_record_with_an_unknown_kind_is_invalid_data_naming_the_event()
    {
        var stream = new MemoryStream();
        using (var w = new TraceWriter(stream, new TraceHeader(), compressionLevel: 1))
        {
            w.Interrupt(1);
            w.Interrupt(2);
        }
        byte[] bytes = stream.ToArray();
        // Rewrite the single chunk with a bad second record, recompressed, with a correct CRC: only the decoder can object.
        int start = TraceLayout.FileHeaderSize + (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(TraceLayout.FileJsonLengthOffset));
        byte[] raw = [(byte)RecordKind.Interrupt, 1, 0x77, 2];
        using var compressor = new ZstdSharp.Compressor(1);
        byte[] payload = compressor.Wrap(raw).ToArray();
        var chunk = new byte[TraceLayout.ChunkHeaderSize + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(chunk, TraceLayout.ChunkMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(chunk.AsSpan(TraceLayout.ChunkEventCountOffset), 2);
        BinaryPrimitives.WriteUInt32LittleEndian(chunk.AsSpan(TraceLayout.ChunkCompressedLengthOffset), (uint)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(chunk.AsSpan(TraceLayout.ChunkRawLengthOffset), (uint)raw.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(chunk.AsSpan(TraceLayout.ChunkCrcOffset), System.IO.Hashing.Crc32.HashToUInt32(payload));
        payload.CopyTo(chunk, TraceLayout.ChunkHeaderSize);
        byte[] cut = [.. bytes.AsSpan(0, start), .. chunk];
        using TraceReader r = TraceRig.Open(cut);
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => r[1]);
        Assert.Contains("#1", e.Message);
        Assert.Contains("unknown record kind", e.Message);
    }
}
