using System.Buffers.Binary;
using System.Numerics;

namespace VirtioScope.Guest.Workloads;

/// <summary>
/// fio-style verify blocks: a 32-byte header {magic, crc32c, byte offset, seed, generation, length} followed by an
/// xorshift stream seeded from (seed, offset, generation). The CRC covers everything after the crc field, so a block
/// that lands at the wrong offset, is stale, or is corrupted is told apart in the message.
/// </summary>
public static class VerifyPattern
{
    /// <summary>"VSVF", little-endian.</summary>
    public const uint Magic = 0x4656_5356;

    /// <summary>Bytes of the header.</summary>
    public const int HeaderSize = 32;

    /// <summary>Fills <paramref name="block"/> with the pattern of <paramref name="offset"/>, <paramref name="seed"/>, <paramref name="generation"/>.</summary>
    public static void Fill(Span<byte> block, ulong offset, ulong seed, uint generation)
    {
        if (block.Length < HeaderSize || block.Length % 8 != 0)
        {
            throw new ArgumentException($"verify block of {block.Length} bytes is shorter than {HeaderSize} or not a multiple of 8", nameof(block));
        }
        BinaryPrimitives.WriteUInt32LittleEndian(block, Magic);
        BinaryPrimitives.WriteUInt64LittleEndian(block[8..], offset);
        BinaryPrimitives.WriteUInt64LittleEndian(block[16..], seed);
        BinaryPrimitives.WriteUInt32LittleEndian(block[24..], generation);
        BinaryPrimitives.WriteUInt32LittleEndian(block[28..], (uint)block.Length);
        ulong x = StreamSeed(offset, seed, generation);
        for (int i = HeaderSize; i < block.Length; i += 8)
        {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            BinaryPrimitives.WriteUInt64LittleEndian(block[i..], x);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(block[4..], Crc(block));
    }

    /// <summary>Checks a block read back; null when it is what was written, otherwise why not.</summary>
    public static string? Check(ReadOnlySpan<byte> block, ulong offset, ulong seed, uint generation)
    {
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(block);
        if (magic != Magic)
        {
            return block.IndexOfAnyExcept((byte)0) < 0
                ? $"block at byte {offset} reads as zeroes; expected generation {generation} of the pattern"
                : $"block at byte {offset} has no verify header (magic 0x{magic:x8})";
        }
        ulong at = BinaryPrimitives.ReadUInt64LittleEndian(block[8..]);
        if (at != offset)
        {
            return $"block at byte {offset} holds the data written for byte {at}";
        }
        ulong s = BinaryPrimitives.ReadUInt64LittleEndian(block[16..]);
        uint gen = BinaryPrimitives.ReadUInt32LittleEndian(block[24..]);
        uint len = BinaryPrimitives.ReadUInt32LittleEndian(block[28..]);
        if (s != seed || len != (uint)block.Length)
        {
            return $"block at byte {offset} was written by another run (seed {s}, length {len})";
        }
        if (gen != generation)
        {
            return $"block at byte {offset} is stale: generation {gen}, expected {generation}";
        }
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(block[4..]);
        uint actual = Crc(block);
        return crc == actual ? null : $"block at byte {offset} is corrupt: crc32c 0x{actual:x8}, header says 0x{crc:x8}";
    }

    private static ulong StreamSeed(ulong offset, ulong seed, uint generation)
    {
        ulong x = (seed * 0x9E37_79B9_7F4A_7C15UL) ^ (offset * 0xBF58_476D_1CE4_E5B9UL) ^ ((ulong)generation << 32) ^ 0x94D0_49BB_1331_11EBUL;
        return x == 0 ? 0x2545_F491_4F6C_DD1DUL : x;
    }

    private static uint Crc(ReadOnlySpan<byte> block)
    {
        uint crc = 0xffff_ffff;
        for (int i = 8; i < block.Length; i += 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(block[i..]));
        }
        return ~crc;
    }
}
