using VirtioScope.Block;
using VirtioScope.Tracing.Format;

namespace VirtioScope.Tracing.Replay;

/// <summary>
/// The original content of a recording's backend, as far as the recording holds it: a <c>--full</c> recording keeps
/// the bytes the device wrote to guest memory, and the data of each backend read is among them (the device writes it
/// into the request's buffers, with the read's hash). The first bytes seen for each sector are its original content
/// (later reads may follow the run's own writes, which a replay makes again); sectors the recording never read read as
/// zeroes. Read-only: wrap it in a <see cref="ProtectedBackend"/> to replay.
/// </summary>
public sealed class RecordedContentBackend : IBlockBackend
{
    private const int BlockSize = 4096;
    private const int MaxWaiting = 1 << 16;
    private readonly Dictionary<long, (byte[] Data, byte Known)> _blocks = [];

    private RecordedContentBackend(long size) => Size = size;

    /// <summary>Whether <paramref name="header"/> describes a recording that holds its backend's content.</summary>
    public static bool Holds(TraceHeader header)
    {
        ArgumentNullException.ThrowIfNull(header);
        return header.Replayable && header.FullData;
    }

    /// <summary>Collects the content of every backend read in <paramref name="reader"/>'s recording.</summary>
    /// <exception cref="InvalidOperationException">The recording does not hold its backend's content (not <c>--full</c>).</exception>
    public static RecordedContentBackend From(TraceReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        if (!Holds(reader.Header))
        {
            throw new InvalidOperationException("the trace does not hold its backend's content (record with --full)");
        }
        var content = new RecordedContentBackend(reader.Header.Backend.VirtualSize);
        // Reads whose data has not been seen yet in a device write: (offset, length, hash).
        var waiting = new List<(long Offset, long Length, ulong Hash)>();
        foreach (TraceEvent e in reader.Events())
        {
            if (e.Kind == RecordKind.BackendIo && (BackendOp)e.Code == BackendOp.Read && e.Length > 0)
            {
                waiting.Add(((long)e.Address, e.Length, e.Hash));
            }
            else if (e.Kind == RecordKind.DeviceWrite && !e.Data.IsEmpty && waiting.Count > 0)
            {
                int i = waiting.FindIndex(w => w.Length == e.Length && w.Hash == e.Hash);
                if (i >= 0)
                {
                    content.Learn(waiting[i].Offset, e.Data.Span);
                    waiting.RemoveAt(i);
                }
            }
            if (waiting.Count > MaxWaiting)
            {
                // The recorder writes a request's data when its register access ends, so a read's data follows within
                // one access; a read still unmatched this far back failed and left no data.
                waiting.RemoveRange(0, waiting.Count - MaxWaiting);
            }
        }
        return content;
    }

    /// <summary>Sectors whose original content the recording held.</summary>
    public long KnownSectors => _blocks.Values.Sum(b => (long)System.Numerics.BitOperations.PopCount(b.Known));

    /// <inheritdoc />
    public long Size { get; }

    /// <inheritdoc />
    public bool IsReadOnly => true;

    /// <summary>What an image backend offers, as the recorded one did (the device's discard path depends on it).</summary>
    public BlockCapabilities Capabilities => BlockCapabilities.Flush | BlockCapabilities.Discard | BlockCapabilities.WriteZeroes;

    /// <inheritdoc />
    public void Read(long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            long block = offset / BlockSize;
            int within = (int)(offset % BlockSize);
            int take = Math.Min(destination.Length, BlockSize - within);
            if (_blocks.TryGetValue(block, out (byte[] Data, byte Known) b))
            {
                b.Data.AsSpan(within, take).CopyTo(destination);
            }
            else
            {
                destination[..take].Clear();
            }
            offset += take;
            destination = destination[take..];
        }
    }

    /// <inheritdoc />
    public void Write(long offset, ReadOnlySpan<byte> source) => throw new NotSupportedException("recorded content is read-only");

    /// <inheritdoc />
    public void Flush()
    {
    }

    /// <inheritdoc />
    public void Discard(long offset, long length) => throw new NotSupportedException("recorded content is read-only");

    /// <inheritdoc />
    public void WriteZeroes(long offset, long length, ZeroingMode mode) => throw new NotSupportedException("recorded content is read-only");

    /// <inheritdoc />
    public void Dispose()
    {
    }

    /// <summary>Keeps <paramref name="data"/> as the content at <paramref name="offset"/> for sectors not seen before.</summary>
    private void Learn(long offset, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 512 && offset + 512 <= Size)
        {
            long block = offset / BlockSize;
            int sector = (int)(offset % BlockSize / 512);
            if (!_blocks.TryGetValue(block, out (byte[] Data, byte Known) b))
            {
                b = (new byte[BlockSize], 0);
            }
            if ((b.Known & (1 << sector)) == 0 && offset % 512 == 0)
            {
                data[..512].CopyTo(b.Data.AsSpan(sector * 512));
                b.Known |= (byte)(1 << sector);
            }
            _blocks[block] = b;
            offset += 512;
            data = data[512..];
        }
    }
}
