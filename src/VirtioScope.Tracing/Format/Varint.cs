using System.Runtime.CompilerServices;

namespace VirtioScope.Tracing.Format;

/// <summary>LEB128 unsigned variable-length integers, as used for every integer field inside a chunk.</summary>
public static class Varint
{
    /// <summary>Most bytes a 64-bit varint takes.</summary>
    public const int MaxBytes = 10;

    /// <summary>Writes <paramref name="value"/> into <paramref name="destination"/> and returns the bytes used.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Write(Span<byte> destination, ulong value)
    {
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    /// <summary>
    /// Reads a varint at <paramref name="position"/>, advancing it. Returns false when the data ends inside the number
    /// (a cut trace); throws <see cref="InvalidDataException"/> for a number longer than 64 bits.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> source, ref int position, out ulong value, string field)
    {
        value = 0;
        int shift = 0;
        int p = position;
        while (p < source.Length)
        {
            byte b = source[p++];
            if (shift == 63 && b > 1)
            {
                throw new InvalidDataException($"trace: varint field '{field}' at payload offset {position} exceeds 64 bits");
            }
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80)
            {
                position = p;
                return true;
            }
            shift += 7;
            if (shift > 63)
            {
                throw new InvalidDataException($"trace: varint field '{field}' at payload offset {position} exceeds 64 bits");
            }
        }
        return false;
    }
}
