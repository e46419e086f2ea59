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

    /// <summary>
    /// Worker threads (defaults to all cores). With compression they compress in parallel; without it, more than one
    /// means a reader thread overlapping a writer thread, and one means a single thread doing both in turn.
    /// </summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// The target may already hold data (qemu-img's -n): zero ranges are then written as zeroes instead of skipped.
    /// </summary>
    public bool TargetHasData { get; init; }

    /// <summary>An image whose content the target already shows through (qemu-img's -B): equal ranges are skipped.</summary>
    public IDiskImage? TargetBacking { get; init; }

    /// <summary>
    /// Write chunks in the order their compression finishes rather than in disk order (qemu-img's -W): no chunk waits
    /// behind a slower one, at the price of a target laid out out of order.
    /// </summary>
    public bool OutOfOrder { get; init; }
}


/// <summary>
/// Copies the concatenation of source images into a target through a bounded pipeline: a reader, compression spread
/// over all cores, and a writer, overlapping. Like qemu-img, it asks the source's allocation map first and reads only
/// ranges that can hold data, so holes and zero clusters cost neither I/O nor a scan. At most 128 MiB of chunks are in
/// flight, which keeps memory below 256 MiB for any image size and core count.
/// </summary>
public static class ImageConverter
{
    // 2 MiB units for every conversion: compressed output spreads them over the workers, and for plain copies a chunk
    // this size still fits the caches between the read that fills it and the write that drains it (8 MiB chunks made
    // the kernel's copies into and out of the buffer miss and cost a third more time).
    private const int ChunkSize = 2 << 20;

    /// <summary>The largest chunk the writer is handed (its -B compare buffer is this big).</summary>
    internal const int MaxChunkSize = ChunkSize;
    private const long InFlightBytes = 128L << 20;

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
            if (ChunkSize % compressor.ClusterSize != 0)
            {
                throw new ImageException(ImageErrorKind.UnsupportedFeature, target.FilePath, "cluster_size", "compressed output needs clusters of at most 2 MiB");
            }
        }
        var writer = new ChunkWriter(target, options, compressor);
        if (compressor is null && options.Workers <= 1)
        {
            ConvertInline(sources, writer, total, progress);
        }
        else
        {
            ConvertPipelined(sources, writer, options, compressor, total, progress);
        }
        target.Flush();
    }

    // One thread reads and writes in turn: no hand-over between threads, each of which costs a scheduler round trip.
    private static void ConvertInline(IReadOnlyList<IDiskImage> sources, ChunkWriter writer, long total, Action<long, long>? progress)
    {
        long done = 0;
        foreach (ConvertChunk chunk in EnumerateChunks(sources, ChunkSize, writer.NeedsWholeChunks, CancellationToken.None))
        {
            try
            {
                writer.Write(chunk);
            }
            finally
            {
                chunk.ReturnBuffers();
            }
            done += chunk.Length;
            progress?.Invoke(done, total);
        }
    }

    private static void ConvertPipelined(IReadOnlyList<IDiskImage> sources, ChunkWriter writer, ConvertOptions options, ICompressedWriter? compressor, long total, Action<long, long>? progress)
    {
        int workers = Math.Max(1, options.Workers);
        int capacity = (int)Math.Clamp(workers * 2L, 2, InFlightBytes / ChunkSize);
        bool outOfOrder = options.OutOfOrder && compressor is not null;

        // The reader takes a slot before reading a chunk and the writer gives it back after writing it: that bounds
        // memory whatever order chunks complete in. Tasks reach the writer in read order, or with -W as they finish.
        using var slots = new SemaphoreSlim(capacity);
        using var queue = new BlockingCollection<Task<ConvertChunk>>();
        using var cancel = new CancellationTokenSource();
        int outstanding = 1; // the reader's own token, so the queue completes only after the reader and all tasks
        void Finish()
        {
            if (Interlocked.Decrement(ref outstanding) == 0)
            {
                queue.CompleteAdding();
            }
        }

        Exception? readerError = null;
        var reader = new Thread(() =>
        {
            try
            {
                foreach (ConvertChunk chunk in EnumerateChunks(sources, ChunkSize, writer.NeedsWholeChunks, cancel.Token, slots))
                {
                    Task<ConvertChunk> task = compressor is null || chunk.Data is null
                        ? Task.FromResult(chunk)
                        : Task.Run(() => CompressChunk(compressor, chunk));
                    if (outOfOrder)
                    {
                        Interlocked.Increment(ref outstanding);
                        task.ContinueWith(t => { queue.Add(t); Finish(); }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                    }
                    else
                    {
                        queue.Add(task);
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // The writer failed and stopped taking chunks; its error is the one reported.
            }
            catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException or InvalidDataException)
            {
                readerError = e;
            }
            finally
            {
                Finish();
            }
        })
        { IsBackground = true, Name = "convert-reader" };
        reader.Start();
        long done = 0;
        try
        {
            foreach (Task<ConvertChunk> task in queue.GetConsumingEnumerable())
            {
                ConvertChunk chunk = task.GetAwaiter().GetResult();
                try
                {
                    writer.Write(chunk);
                }
                finally
                {
                    chunk.ReturnBuffers();
                    slots.Release();
                }
                done += chunk.Length;
                progress?.Invoke(done, total);
            }
        }
        finally
        {
            cancel.Cancel();
            reader.Join();
        }
        if (readerError is not null)
        {
            throw new IOException(readerError.Message, readerError);
        }
    }

    // Splits the sources into chunks, in target order, reading only what the allocation map says may hold data.
    // With whole chunks, the bytes between segments are zeroed too, so every byte of the buffer is valid.
    private static IEnumerable<ConvertChunk> EnumerateChunks(IReadOnlyList<IDiskImage> sources, int chunkSize, bool wholeChunks, CancellationToken cancel, SemaphoreSlim? slots = null)
    {
        long targetOffset = 0;
        foreach (IDiskImage source in sources)
        {
            for (long pos = 0; pos < source.VirtualSize; pos += chunkSize)
            {
                slots?.Wait(cancel);
                int length = (int)Math.Min(chunkSize, source.VirtualSize - pos);
                yield return ReadChunk(source, pos, targetOffset + pos, length, chunkSize, wholeChunks);
            }
            targetOffset += source.VirtualSize;
        }
    }

    private static ConvertChunk ReadChunk(IDiskImage source, long pos, long targetOffset, int length, int bufferSize, bool wholeChunk)
    {
        var chunk = new ConvertChunk(targetOffset, length);
        for (int at = 0; at < length;)
        {
            MapRecord r = ImageMap.Resolve(source, pos + at, length - at);
            int n = (int)Math.Min(r.Length, length - at);
            if (!r.Zero)
            {
                chunk.AddSegment(at, n);
            }
            at += n;
        }
        if (chunk.Segments.Count == 0)
        {
            return chunk;
        }
        byte[] data = ArrayPool<byte>.Shared.Rent(bufferSize);
        chunk.Data = data;
        int gapStart = 0;
        foreach (ConvertSegment s in chunk.Segments)
        {
            if (wholeChunk)
            {
                data.AsSpan(gapStart, s.Start - gapStart).Clear();
            }
            source.Read(pos + s.Start, data.AsSpan(s.Start, s.Length));
            gapStart = s.End;
        }
        if (wholeChunk)
        {
            data.AsSpan(gapStart, length - gapStart).Clear();
        }
        return chunk;
    }

    private static ConvertChunk CompressChunk(ICompressedWriter writer, ConvertChunk chunk)
    {
        int cs = writer.ClusterSize;
        int clusters = chunk.Length / cs;
        byte[] output = ArrayPool<byte>.Shared.Rent(Math.Max(1, clusters) * cs);
        chunk.Compressed = output;
        int[] lengths = new int[clusters];
        chunk.CompressedLengths = lengths;
        for (int i = 0; i < clusters; i++)
        {
            ReadOnlySpan<byte> cluster = chunk.Data.AsSpan(i * cs, cs);
            lengths[i] = cluster.ContainsAnyExcept((byte)0)
                ? writer.Compress(cluster, output.AsSpan(i * cs, cs))
                : 0;
        }
        return chunk;
    }
}
