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
    public void A_trace_cut_anywhere_reads_a_prefix_of_its_events_that_grows_with_the_cut()
    {
        using TraceReader full = TraceRig.Open(Trace);
        Assert.True(full.IsComplete);
        string[] all = [.. full.Events().Select(e => e.ToString())];
        int start = DataStart();
        long previous = 0;
        int cuts = 0;
        for (int cut = start; cut < Trace.Length; cut += cut % 5 == 0 ? 1 : 3)
        {
            using TraceReader r = TraceRig.Open(Trace[..cut]);
            Assert.False(r.IsComplete);
            Assert.NotNull(r.TruncationNote);
            Assert.True(r.EventCount >= previous, $"cut at {cut}: {r.EventCount} events after {previous}");
            string[] got = [.. r.Events().Select(e => e.ToString())];
            Assert.Equal(all.Take(got.Length), got);
            previous = r.EventCount;
            cuts++;
        }
        Assert.Equal(full.EventCount, previous);
        Assert.True(cuts > 100);
    }

    /// <summary>
    /// A recorder that hands every record to the file on its own (chunk target 1): the file's record boundaries are
    /// its chunk boundaries, and a cut anywhere keeps exactly the records that reached the file whole.
    /// </summary>
    [Fact]
    public void A_cut_at_every_record_boundary_and_inside_every_record_keeps_the_records_before_it()
    {
        byte[] trace = TraceRig.Record(TraceRig.Options("randrw", requests: 6, chunkTarget: 1));
        using TraceReader full = TraceRig.Open(trace);
        string[] all = [.. full.Events().Select(e => e.ToString())];
        Assert.Equal(full.EventCount, full.ChunkCount);
        // Where each record's chunk ends in the file.
        var ends = new List<long>();
        long offset = TraceLayout.FileHeaderSize + (int)BinaryPrimitives.ReadUInt32LittleEndian(trace.AsSpan(TraceLayout.FileJsonLengthOffset));
        for (int i = 0; i < full.ChunkCount; i++)
        {
            offset += TraceLayout.ChunkHeaderSize + BinaryPrimitives.ReadUInt32LittleEndian(trace.AsSpan((int)offset + TraceLayout.ChunkCompressedLengthOffset));
            ends.Add(offset);
        }
        int boundaries = 0;
        int inside = 0;
        for (long cut = ends[0] - 1; cut <= ends[^1]; cut++)
        {
            int whole = ends.Count(e => e <= cut);
            using TraceReader r = TraceRig.Open(trace[..(int)cut]);
            // Inside a record's chunk its zstd frame may already decode (a raw block): then that record is whole too.
            Assert.True(r.EventCount == whole || (r.EventCount == whole + 1 && !ends.Contains(cut)), $"cut at {cut}: {r.EventCount} events, {whole} records whole");
            string[] got = [.. r.Events().Select(e => e.ToString())];
            Assert.Equal(all.Take(got.Length), got);
            if (ends.Contains(cut))
            {
                boundaries++;
            }
            else
            {
                inside++;
            }
        }
        Assert.Equal(full.ChunkCount, boundaries);
        Assert.True(inside > full.ChunkCount * 10);
    }

    [Fact]
    public void A_cut_inside_a_large_chunk_keeps_the_records_of_its_decodable_blocks()
    {
        // Default chunk size: a chunk's zstd frame holds several 128 KiB blocks, so the file holds records before the chunk ends.
        byte[] trace = TraceRig.Record(TraceRig.Options("randread", requests: 3000, chunkTarget: TraceLayout.ChunkTarget));
        using TraceReader full = TraceRig.Open(trace);
        Assert.True(full.ChunkCount > 2);
        string[] all = [.. full.Events().Take(200_000).Select(e => e.ToString())];
        int start = TraceLayout.FileHeaderSize + (int)BinaryPrimitives.ReadUInt32LittleEndian(trace.AsSpan(TraceLayout.FileJsonLengthOffset));
        long secondChunk = full.ChunkFirstEvent(1);
        uint firstLength = BinaryPrimitives.ReadUInt32LittleEndian(trace.AsSpan(start + TraceLayout.ChunkCompressedLengthOffset));
        long previous = 0;
        bool someWithin = false;
        for (int i = 1; i < 20; i++)
        {
            int cut = start + TraceLayout.ChunkHeaderSize + (int)(firstLength * i / 20);
            using TraceReader r = TraceRig.Open(trace[..cut]);
            Assert.True(r.EventCount < secondChunk);
            Assert.True(r.EventCount >= previous);
            someWithin |= r.EventCount > 0;
            Assert.Equal(all.Take((int)r.EventCount), r.Events().Select(e => e.ToString()));
            Assert.Contains("complete records of it reached the file", r.TruncationNote, StringComparison.Ordinal);
            previous = r.EventCount;
        }
        Assert.True(someWithin, "no cut inside the first chunk kept any of its records");
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
