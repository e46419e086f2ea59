namespace VirtioScope.Tracing.Format;

/// <summary>Magic numbers, sizes and field offsets of the <c>.vstrace</c> container (docs/trace-format.md).</summary>
public static class TraceLayout
{
    /// <summary>Current format version, written in the file header.</summary>
    public const ushort FormatVersion = 1;

    /// <summary>"VSTRACE1" as a little-endian 64-bit number: the first 8 bytes of a trace.</summary>
    public const ulong FileMagic = 0x3145_4341_5254_5356;

    /// <summary>"CHNK": the first 4 bytes of every chunk header.</summary>
    public const uint ChunkMagic = 0x4B4E_4843;

    /// <summary>"VSIX": the first 4 bytes of the index block.</summary>
    public const uint IndexMagic = 0x5849_5356;

    /// <summary>"VSTRAEND" as a little-endian 64-bit number: the last 8 bytes of a complete trace.</summary>
    public const ulong FooterMagic = 0x444E_4541_5254_5356;

    /// <summary>Bytes of the fixed file header before the JSON description.</summary>
    public const int FileHeaderSize = 20;

    /// <summary>File header: offset of the magic (u64).</summary>
    public const int FileMagicOffset = 0;

    /// <summary>File header: offset of the format version (u16).</summary>
    public const int FileVersionOffset = 8;

    /// <summary>File header: offset of the flags (u16, zero in version 1).</summary>
    public const int FileFlagsOffset = 10;

    /// <summary>File header: offset of the JSON description's length (u32).</summary>
    public const int FileJsonLengthOffset = 12;

    /// <summary>File header: offset of the CRC-32 of the JSON description (u32).</summary>
    public const int FileJsonCrcOffset = 16;

    /// <summary>Largest JSON description accepted.</summary>
    public const int MaxJsonLength = 1 << 20;

    /// <summary>Bytes of a chunk header.</summary>
    public const int ChunkHeaderSize = 28;

    /// <summary>Chunk header: offset of the magic (u32).</summary>
    public const int ChunkMagicOffset = 0;

    /// <summary>Chunk header: offset of the number of the chunk's first event (u64).</summary>
    public const int ChunkFirstEventOffset = 4;

    /// <summary>Chunk header: offset of the number of events in the chunk (u32).</summary>
    public const int ChunkEventCountOffset = 12;

    /// <summary>Chunk header: offset of the compressed payload's length (u32).</summary>
    public const int ChunkCompressedLengthOffset = 16;

    /// <summary>Chunk header: offset of the decompressed payload's length (u32).</summary>
    public const int ChunkRawLengthOffset = 20;

    /// <summary>Chunk header: offset of the CRC-32 of the compressed payload (u32).</summary>
    public const int ChunkCrcOffset = 24;

    /// <summary>Largest decompressed chunk payload accepted.</summary>
    public const int MaxChunkRawLength = 16 << 20;

    /// <summary>Decompressed bytes after which the recorder closes a chunk.</summary>
    public const int ChunkTarget = 256 << 10;

    /// <summary>Bytes of the index block's header: magic (u32) and entry count (u32).</summary>
    public const int IndexHeaderSize = 8;

    /// <summary>Bytes of one index entry: chunk file offset (u64) and first event (u64).</summary>
    public const int IndexEntrySize = 16;

    /// <summary>Bytes of the footer.</summary>
    public const int FooterSize = 48;

    /// <summary>Footer: offset of the index block's file offset (u64).</summary>
    public const int FooterIndexOffset = 0;

    /// <summary>Footer: offset of the total event count (u64).</summary>
    public const int FooterEventCountOffset = 8;

    /// <summary>Footer: offset of the digest of all backend reads (u64, XxHash3 of the read hashes in order).</summary>
    public const int FooterReadDigestOffset = 16;

    /// <summary>Footer: offset of the number of backend reads (u64).</summary>
    public const int FooterReadCountOffset = 24;

    /// <summary>Footer: offset of the CRC-32 of the index block and the footer's first 32 bytes (u32).</summary>
    public const int FooterCrcOffset = 32;

    /// <summary>Footer: offset of the reserved word (u32, zero).</summary>
    public const int FooterReservedOffset = 36;

    /// <summary>Footer: offset of the closing magic (u64).</summary>
    public const int FooterMagicOffset = 40;
}
