using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace VirtioScope.Images.Qcow2;

/// <summary>qcow2 tables (L1, L2, refcount table, bitmap tables) are arrays of big-endian 64-bit entries.</summary>
internal static class Qcow2Tables
{
    /// <summary>Writes <paramref name="table"/> as big-endian entries to the start of <paramref name="destination"/>.</summary>
    public static void Encode(ReadOnlySpan<ulong> table, Span<byte> destination)
    {
        Span<ulong> entries = MemoryMarshal.Cast<byte, ulong>(destination[..(table.Length * sizeof(ulong))]);
        if (BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.ReverseEndianness(table, entries);
        }
        else
        {
            table.CopyTo(entries);
        }
    }
}
