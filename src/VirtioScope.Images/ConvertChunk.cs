using System.Buffers;

namespace VirtioScope.Images;

/// <summary>A run of the chunk that may hold data (everything outside the segments reads as zero).</summary>
internal readonly record struct ConvertSegment(int Start, int Length)
{
    public int End => Start + Length;
}

/// <summary>A piece of the target being converted: where it goes, which runs hold data, and their bytes.</summary>
internal sealed class ConvertChunk(long offset, int length)
{
    public long Offset { get; } = offset;

    public int Length { get; } = length;

    public List<ConvertSegment> Segments { get; } = [];

    /// <summary>Rented buffer holding the segments' bytes; null when the whole chunk reads as zero.</summary>
    public byte[]? Data { get; set; }

    public byte[]? Compressed { get; set; }

    public int[]? CompressedLengths { get; set; }

    public void AddSegment(int start, int length)
    {
        if (Segments.Count > 0 && Segments[^1].End == start)
        {
            Segments[^1] = Segments[^1] with { Length = Segments[^1].Length + length };
        }
        else
        {
            Segments.Add(new ConvertSegment(start, length));
        }
    }

    public void ReturnBuffers()
    {
        if (Data is not null)
        {
            ArrayPool<byte>.Shared.Return(Data);
            Data = null;
        }
        if (Compressed is not null)
        {
            ArrayPool<byte>.Shared.Return(Compressed);
            Compressed = null;
        }
    }
}

