using System.Buffers;
using System.Collections.Concurrent;
using VirtioScope.Block;

namespace VirtioScope.Images;

/// <summary>Options for <see cref="ImageConverter.Convert"/>: qemu-img convert's -c, -S, -m and -n.</summary>
public sealed record ConvertOptions
{
    /// <summary>Write compressed clusters (the target must implement <see cref="ICompressedWriter"/>).</summary>
    public bool Compress { get; init; }

    /// <summary>Zero runs at least this long are not written (qemu-img's -S; 0 writes everything).</summary>
    public long SparseSize { get; init; } = 4096;

    /// <summary>Worker threads for compression (defaults to all cores).</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// The target may already hold data (qemu-img's -n): zero ranges are then written as zeroes instead of skipped.
    /// </summary>
    public bool TargetHasData { get; init; }

    /// <summary>An image whose content the target already shows through (qemu-img's -B): equal ranges are skipped.</summary>
    public IDiskImage? TargetBacking { get; init; }
}

/// <summary>
/// Copies the concatenation of source images into a target through a bounded, ordered pipeline: a reader, compression
/// spread over all cores, and a writer, overlapping. At most 128 MiB of chunks are queued (plus one being read and one
/// being written), which keeps memory below 256 MiB for any image size and core count.
/// </summary>
public static class ImageConverter
{
    // Compressed output works in 2 MiB units spread over the workers; plain copies use bigger units so the reader and
    // writer threads hand over less often (each handover costs a wake-up, which is slow on a loaded machine).
    private const int CompressedChunkSize = 2 << 20;
    private const int PlainChunkSize = 8 << 20;
    private const long InFlightBytes = 128L << 20;

    private sealed class Chunk
    {
        public long Offset;
        public int Length;
        public byte[]? Data;
        public bool AllZero;
        public byte[]? Compressed;
        public int[]? CompressedLengths;
    }

    /// <summary>Runs the conversion; <paramref name="progress"/> receives (bytes done, bytes total).</summary>
    public static void Convert(IReadOnlyList<IDiskImage> sources, IDiskImage target, ConvertOptions options, Action<long, long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(options);
        long total = sources.Sum(s => s.VirtualSize);
        if (total > target.VirtualSize)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, target.FilePath, "size", $"target is smaller ({target.VirtualSize} bytes) than the sources ({total} bytes)");
        }
        ICompressedWriter? compressor = null;
        if (options.Compress)
        {
            compressor = target as ICompressedWriter
                ?? throw new ImageException(ImageErrorKind.UnsupportedFeature, target.FilePath, "format", $"{target.Format.ToName()} does not support compression");
            if (CompressedChunkSize % compressor.ClusterSize != 0)
            {
                throw new ImageException(ImageErrorKind.UnsupportedFeature, target.FilePath, "cluster_size", "compressed output needs clusters of at most 2 MiB");
            }
        }
        int workers = Math.Max(1, options.Workers);
        int chunkSize = compressor is null ? PlainChunkSize : CompressedChunkSize;
        int capacity = (int)Math.Clamp(workers * 2L, 2, InFlightBytes / chunkSize);
        using var queue = new BlockingCollection<Task<Chunk>>(capacity);
        Exception? readerError = null;
        var reader = new Thread(() =>
        {
            try
            {
                long virtualOffset = 0;
                foreach (IDiskImage source in sources)
                {
                    for (long pos = 0; pos < source.VirtualSize; pos += chunkSize)
                    {
                        Chunk chunk = ReadChunk(source, pos, virtualOffset + pos, chunkSize);
                        queue.Add(compressor is null || chunk.AllZero ? Task.FromResult(chunk) : Task.Run(() => CompressChunk(compressor, chunk)));
                    }
                    virtualOffset += source.VirtualSize;
                }
            }
            catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException)
            {
                readerError = e;
            }
            finally
            {
                queue.CompleteAdding();
            }
        })
        { IsBackground = true, Name = "convert-reader" };
        reader.Start();
        long done = 0;
        byte[]? compare = options.TargetBacking is null ? null : new byte[chunkSize];
        try
        {
            foreach (Task<Chunk> task in queue.GetConsumingEnumerable())
            {
                Chunk chunk = task.GetAwaiter().GetResult();
                try
                {
                    WriteChunk(target, chunk, options, compressor, compare);
                }
                finally
                {
                    if (chunk.Data is not null)
                    {
                        ArrayPool<byte>.Shared.Return(chunk.Data);
                    }
                    if (chunk.Compressed is not null)
                    {
                        ArrayPool<byte>.Shared.Return(chunk.Compressed);
                    }
                }
                done += chunk.Length;
                progress?.Invoke(done, total);
            }
        }
        finally
        {
            // Drain so the reader can finish even when the writer failed.
            while (queue.TryTake(out Task<Chunk>? left, 100) || !queue.IsCompleted)
            {
                if (left is not null && left.IsCompletedSuccessfully)
                {
                    Chunk c = left.Result;
                    if (c.Data is not null)
                    {
                        ArrayPool<byte>.Shared.Return(c.Data);
                    }
                }
            }
            reader.Join();
        }
        if (readerError is not null)
        {
            throw new IOException(readerError.Message, readerError);
        }
        target.Flush();
    }

    private static Chunk ReadChunk(IDiskImage source, long pos, long targetOffset, int chunkSize)
    {
        int length = (int)Math.Min(chunkSize, source.VirtualSize - pos);
        var chunk = new Chunk { Offset = targetOffset, Length = length };
        if (ImageMap.IsZero(source, pos, length))
        {
            chunk.AllZero = true;
            return chunk;
        }
        chunk.Data = ArrayPool<byte>.Shared.Rent(chunkSize);
        source.Read(pos, chunk.Data.AsSpan(0, length));
        chunk.AllZero = !chunk.Data.AsSpan(0, length).ContainsAnyExcept((byte)0);
        return chunk;
    }

    private static Chunk CompressChunk(ICompressedWriter writer, Chunk chunk)
    {
        int cs = writer.ClusterSize;
        int clusters = chunk.Length / cs;
        chunk.Compressed = ArrayPool<byte>.Shared.Rent(Math.Max(1, clusters) * cs);
        chunk.CompressedLengths = new int[clusters];
        for (int i = 0; i < clusters; i++)
        {
            ReadOnlySpan<byte> cluster = chunk.Data.AsSpan(i * cs, cs);
            chunk.CompressedLengths[i] = cluster.ContainsAnyExcept((byte)0)
                ? writer.Compress(cluster, chunk.Compressed.AsSpan(i * cs, cs))
                : 0;
        }
        return chunk;
    }

    private static void WriteChunk(IDiskImage target, Chunk chunk, ConvertOptions options, ICompressedWriter? compressor, byte[]? compare)
    {
        if (options.TargetBacking is { } backing && compare is not null)
        {
            WriteAgainstBacking(target, chunk, backing, compare);
            return;
        }
        if (chunk.AllZero)
        {
            if (options.TargetHasData)
            {
                target.WriteZeroes(chunk.Offset, chunk.Length, ZeroingMode.MayUnmap);
            }
            else if (options.SparseSize == 0)
            {
                WriteZeroBuffer(target, chunk.Offset, chunk.Length);
            }
            return;
        }
        ReadOnlySpan<byte> data = chunk.Data.AsSpan(0, chunk.Length);
        if (compressor is not null && chunk.CompressedLengths is not null)
        {
            int cs = compressor.ClusterSize;
            long firstCluster = chunk.Offset / cs;
            for (int i = 0; i < chunk.CompressedLengths.Length; i++)
            {
                int n = chunk.CompressedLengths[i];
                if (n > 0)
                {
                    compressor.WriteCompressed(firstCluster + i, chunk.Compressed.AsSpan(i * cs, n));
                }
                else if (n < 0)
                {
                    target.Write(chunk.Offset + ((long)i * cs), data.Slice(i * cs, cs));
                }
                else if (options.TargetHasData)
                {
                    target.WriteZeroes(chunk.Offset + ((long)i * cs), cs, ZeroingMode.MayUnmap);
                }
            }
            int tail = chunk.CompressedLengths.Length * cs;
            if (tail < chunk.Length)
            {
                target.Write(chunk.Offset + tail, data[tail..]);
            }
            return;
        }
        WriteSparse(target, chunk.Offset, data, options);
    }

    // Writes data, skipping zero runs of at least SparseSize aligned to the target's allocation unit.
    private static void WriteSparse(IDiskImage target, long offset, ReadOnlySpan<byte> data, ConvertOptions options)
    {
        int unit = (int)Math.Max(options.SparseSize, (target as IImageDetails)?.ClusterSize ?? 4096);
        if (options.SparseSize == 0)
        {
            target.Write(offset, data);
            return;
        }
        int start = 0;
        while (start < data.Length)
        {
            int len = Math.Min(unit, data.Length - start);
            bool zero = !data.Slice(start, len).ContainsAnyExcept((byte)0);
            int end = start + len;
            while (end < data.Length)
            {
                int l = Math.Min(unit, data.Length - end);
                if (data.Slice(end, l).ContainsAnyExcept((byte)0) == zero)
                {
                    break;
                }
                end += l;
            }
            if (!zero)
            {
                target.Write(offset + start, data[start..end]);
            }
            else if (options.TargetHasData)
            {
                target.WriteZeroes(offset + start, end - start, ZeroingMode.MayUnmap);
            }
            start = end;
        }
    }

    private static void WriteAgainstBacking(IDiskImage target, Chunk chunk, IDiskImage backing, byte[] compare)
    {
        Span<byte> base_ = compare.AsSpan(0, chunk.Length);
        base_.Clear();
        if (chunk.Offset < backing.VirtualSize)
        {
            int n = (int)Math.Min(chunk.Length, backing.VirtualSize - chunk.Offset);
            backing.Read(chunk.Offset, base_[..n]);
        }
        ReadOnlySpan<byte> data = chunk.AllZero ? new byte[chunk.Length] : chunk.Data.AsSpan(0, chunk.Length);
        if (!data.SequenceEqual(base_))
        {
            int unit = (target as IImageDetails)?.ClusterSize ?? 65536;
            for (int off = 0; off < data.Length; off += unit)
            {
                int len = Math.Min(unit, data.Length - off);
                if (!data.Slice(off, len).SequenceEqual(base_.Slice(off, len)))
                {
                    target.Write(chunk.Offset + off, data.Slice(off, len));
                }
            }
        }
    }

    private static void WriteZeroBuffer(IDiskImage target, long offset, int length)
    {
        byte[] zeros = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            Array.Clear(zeros, 0, length);
            target.Write(offset, zeros.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(zeros);
        }
    }
}
