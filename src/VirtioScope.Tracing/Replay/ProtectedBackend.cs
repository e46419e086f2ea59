using VirtioScope.Block;

namespace VirtioScope.Tracing.Replay;

/// <summary>
/// A copy-on-write view of another backend: reads see the original, writes, discards and write-zeroes go to an
/// in-memory overlay of 4 KiB blocks, so a replay never changes the image it was given. The original is usually
/// opened read-only; <paramref name="readOnly"/> is what the device is told (as recorded), so a writable recording
/// replays with the same offered features.
/// </summary>
public sealed class ProtectedBackend(IBlockBackend original, bool readOnly = false) : IBlockBackend
{
    private const int BlockSize = 4096;
    private readonly IBlockBackend _original = original ?? throw new ArgumentNullException(nameof(original));
    private readonly Dictionary<long, byte[]> _overlay = [];

    /// <inheritdoc />
    public long Size => _original.Size;

    /// <inheritdoc />
    public bool IsReadOnly => readOnly;

    /// <inheritdoc />
    public BlockCapabilities Capabilities => _original.Capabilities;

    /// <summary>Blocks held in the overlay.</summary>
    public int OverlayBlocks => _overlay.Count;

    /// <inheritdoc />
    public void Read(long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            long block = offset / BlockSize;
            int within = (int)(offset % BlockSize);
            int take = Math.Min(destination.Length, BlockSize - within);
            if (_overlay.TryGetValue(block, out byte[]? data))
            {
                data.AsSpan(within, take).CopyTo(destination);
            }
            else
            {
                _original.Read(offset, destination[..take]);
            }
            offset += take;
            destination = destination[take..];
        }
    }

    /// <inheritdoc />
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            int within = (int)(offset % BlockSize);
            int take = Math.Min(source.Length, BlockSize - within);
            source[..take].CopyTo(Block(offset / BlockSize).AsSpan(within));
            offset += take;
            source = source[take..];
        }
    }

    /// <inheritdoc />
    public void Flush()
    {
    }

    /// <inheritdoc />
    public void Discard(long offset, long length) => Zero(offset, length);

    /// <inheritdoc />
    public void WriteZeroes(long offset, long length, ZeroingMode mode) => Zero(offset, length);

    private void Zero(long offset, long length)
    {
        long end = offset + length;
        while (offset < end)
        {
            int within = (int)(offset % BlockSize);
            int take = (int)Math.Min(end - offset, BlockSize - within);
            Block(offset / BlockSize).AsSpan(within, take).Clear();
            offset += take;
        }
    }

    private byte[] Block(long block)
    {
        if (!_overlay.TryGetValue(block, out byte[]? data))
        {
            data = new byte[BlockSize];
            long start = block * BlockSize;
            _original.Read(start, data.AsSpan(0, (int)Math.Min(BlockSize, _original.Size - start)));
            _overlay[block] = data;
        }
        return data;
    }

    /// <summary>Disposes the original backend.</summary>
    public void Dispose() => _original.Dispose();
}
