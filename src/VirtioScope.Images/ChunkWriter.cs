using System.Buffers;
using VirtioScope.Block;

namespace VirtioScope.Images;

/// <summary>
/// The write half of <see cref="ImageConverter"/>: stores one chunk in the target, leaving zero runs unallocated
/// (qemu-img's -S), or writing them as zeroes when the target already holds data (-n) or -S is 0, compressed clusters
/// when compressing, and with -B only what differs from the target's backing file.
/// </summary>
internal sealed class ChunkWriter
{
    private readonly IDiskImage _target;
    private readonly ConvertOptions _options;
    private readonly ICompressedWriter? _compressor;
    private readonly byte[]? _compare;

    // Zero detection works on whole allocation units of the target, aligned in its address space, so a skipped run
    // never leaves half a cluster to be allocated anyway.
    private readonly int _unit;

    public ChunkWriter(IDiskImage target, ConvertOptions options, ICompressedWriter? compressor)
    {
        _target = target;
        _options = options;
        _compressor = compressor;
        int cluster = (target as IImageDetails)?.ClusterSize ?? 4096;
        _unit = (int)Math.Max(options.SparseSize, cluster);
        if (options.TargetBacking is not null)
        {
            _compare = new byte[ImageConverter.MaxChunkSize];
        }
    }

    /// <summary>Whether chunks must arrive with the bytes between their segments zeroed (compression and -B compare whole buffers).</summary>
    public bool NeedsWholeChunks => _compressor is not null || _options.TargetBacking is not null;

    public void Write(ConvertChunk chunk)
    {
        if (_options.TargetBacking is { } backing)
        {
            WriteAgainstBacking(chunk, backing);
            return;
        }
        if (chunk.Data is null)
        {
            WriteZeroRun(chunk.Offset, chunk.Length);
            return;
        }
        if (_compressor is not null && chunk.CompressedLengths is not null)
        {
            WriteCompressed(chunk, _compressor);
            return;
        }
        int gapStart = 0;
        foreach (ConvertSegment s in chunk.Segments)
        {
            WriteZeroRun(chunk.Offset + gapStart, s.Start - gapStart);
            WriteSparse(chunk.Offset + s.Start, chunk.Data.AsSpan(s.Start, s.Length));
            gapStart = s.End;
        }
        WriteZeroRun(chunk.Offset + gapStart, chunk.Length - gapStart);
    }

    private void WriteCompressed(ConvertChunk chunk, ICompressedWriter compressor)
    {
        ReadOnlySpan<byte> data = chunk.Data.AsSpan(0, chunk.Length);
        int[] lengths = chunk.CompressedLengths!;
        int cs = compressor.ClusterSize;
        long firstCluster = chunk.Offset / cs;
        for (int i = 0; i < lengths.Length; i++)
        {
            int n = lengths[i];
            if (n > 0)
            {
                compressor.WriteCompressed(firstCluster + i, chunk.Compressed.AsSpan(i * cs, n));
            }
            else if (n < 0)
            {
                _target.Write(chunk.Offset + ((long)i * cs), data.Slice(i * cs, cs));
            }
            else
            {
                WriteZeroRun(chunk.Offset + ((long)i * cs), cs);
            }
        }
        int tail = lengths.Length * cs;
        if (tail < chunk.Length)
        {
            _target.Write(chunk.Offset + tail, data[tail..]);
        }
    }

    // A run that reads as zero in the source: nothing to do for a fresh target, unless -S 0 asks for allocation.
    private void WriteZeroRun(long offset, int length)
    {
        if (length == 0)
        {
            return;
        }
        if (_options.TargetHasData)
        {
            _target.WriteZeroes(offset, length, ZeroingMode.MayUnmap);
        }
        else if (_options.SparseSize == 0)
        {
            byte[] zeros = ArrayPool<byte>.Shared.Rent(length);
            try
            {
                Array.Clear(zeros, 0, length);
                _target.Write(offset, zeros.AsSpan(0, length));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(zeros);
            }
        }
    }

    // Writes data, skipping runs of whole zero units.
    private void WriteSparse(long offset, ReadOnlySpan<byte> data)
    {
        if (_options.SparseSize == 0)
        {
            _target.Write(offset, data);
            return;
        }
        int start = 0;
        while (start < data.Length)
        {
            int end = start + PieceLength(offset + start, data.Length - start);
            bool zero = !data[start..end].ContainsAnyExcept((byte)0);
            while (end < data.Length)
            {
                int l = PieceLength(offset + end, data.Length - end);
                if (data.Slice(end, l).ContainsAnyExcept((byte)0) == zero)
                {
                    break;
                }
                end += l;
            }
            if (!zero)
            {
                _target.Write(offset + start, data[start..end]);
            }
            else
            {
                WriteZeroRun(offset + start, end - start);
            }
            start = end;
        }
    }

    private int PieceLength(long absolute, int remaining) => (int)Math.Min(_unit - (absolute % _unit), remaining);

    private void WriteAgainstBacking(ConvertChunk chunk, IDiskImage backing)
    {
        Span<byte> base_ = _compare.AsSpan(0, chunk.Length);
        base_.Clear();
        if (chunk.Offset < backing.VirtualSize)
        {
            int n = (int)Math.Min(chunk.Length, backing.VirtualSize - chunk.Offset);
            backing.Read(chunk.Offset, base_[..n]);
        }
        int unit = (_target as IImageDetails)?.ClusterSize ?? 65536;
        for (int off = 0; off < chunk.Length; off += unit)
        {
            int len = Math.Min(unit, chunk.Length - off);
            ReadOnlySpan<byte> old = base_.Slice(off, len);
            if (chunk.Data is null)
            {
                if (old.ContainsAnyExcept((byte)0))
                {
                    _target.WriteZeroes(chunk.Offset + off, len, ZeroingMode.MayUnmap);
                }
            }
            else if (!chunk.Data.AsSpan(off, len).SequenceEqual(old))
            {
                _target.Write(chunk.Offset + off, chunk.Data.AsSpan(off, len));
            }
        }
    }
}
