using System.Security.Cryptography;
using VirtioScope.Block;

namespace VirtioScope.Debugger.Backend;

/// <summary>
/// Keeps every change the device makes in memory, in chunks of <see cref="ChunkSize"/> bytes, over a base backend that
/// is only read: the image a debug session serves stays untouched unless the session was opened with --rw.
/// </summary>
public sealed class OverlayBackend : IBlockBackend
{
    /// <summary>Granularity of the overlay.</summary>
    public const int ChunkSize = 4096;

    private readonly IBlockBackend _base;
    private readonly SortedDictionary<long, byte[]?> _chunks = [];

    /// <summary>Overlays <paramref name="baseBackend"/>, which this object then owns.</summary>
    public OverlayBackend(IBlockBackend baseBackend, bool readOnly)
    {
        ArgumentNullException.ThrowIfNull(baseBackend);
        _base = baseBackend;
        IsReadOnly = readOnly;
    }

    /// <inheritdoc />
    public long Size => _base.Size;

    /// <inheritdoc />
    public bool IsReadOnly { get; }

    /// <inheritdoc />
    public BlockCapabilities Capabilities => BlockCapabilities.Discard | BlockCapabilities.WriteZeroes;

    /// <summary>Chunks that differ from the base (written or zeroed).</summary>
    public int ChunkCount => _chunks.Count;

    /// <summary>Whether any byte of the range was changed during the session.</summary>
    public bool Overlaps(long offset, long length)
    {
        for (long c = offset / ChunkSize * ChunkSize; c < offset + length; c += ChunkSize)
        {
            if (_chunks.ContainsKey(c))
            {
                return true;
            }
        }
        return false;
    }

    /// <inheritdoc />
    public void Read(long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            long chunk = offset / ChunkSize * ChunkSize;
            int inChunk = (int)(offset - chunk);
            int n = Math.Min(destination.Length, ChunkSize - inChunk);
            if (_chunks.TryGetValue(chunk, out byte[]? data))
            {
                if (data is null)
                {
                    destination[..n].Clear();
                }
                else
                {
                    data.AsSpan(inChunk, n).CopyTo(destination);
                }
            }
            else
            {
                _base.Read(offset, destination[..n]);
            }
            offset += n;
            destination = destination[n..];
        }
    }

    /// <inheritdoc />
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            long chunk = offset / ChunkSize * ChunkSize;
            int inChunk = (int)(offset - chunk);
            int n = Math.Min(source.Length, ChunkSize - inChunk);
            source[..n].CopyTo(Materialize(chunk).AsSpan(inChunk));
            offset += n;
            source = source[n..];
        }
    }

    /// <inheritdoc />
    public void Flush()
    {
        // Nothing is durable in an overlay; the session ends and the changes go with it.
    }

    /// <inheritdoc />
    public void Discard(long offset, long length) => WriteZeroes(offset, length, ZeroingMode.MayUnmap);

    /// <inheritdoc />
    public void WriteZeroes(long offset, long length, ZeroingMode mode)
    {
        long end = offset + length;
        while (offset < end)
        {
            long chunk = offset / ChunkSize * ChunkSize;
            int inChunk = (int)(offset - chunk);
            int n = (int)Math.Min(end - offset, ChunkSize - inChunk);
            if (n == ChunkSize)
            {
                _chunks[chunk] = null;
            }
            else
            {
                Materialize(chunk).AsSpan(inChunk, n).Clear();
            }
            offset += n;
        }
    }

    /// <summary>SHA-256 over the changed chunks in order (offset and contents): equal overlays give equal hashes.</summary>
    public string ContentHash()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> key = stackalloc byte[9];
        foreach ((long offset, byte[]? data) in _chunks)
        {
            BitConverter.TryWriteBytes(key, offset);
            key[8] = data is null ? (byte)0 : (byte)1;
            hash.AppendData(key);
            if (data is not null)
            {
                hash.AppendData(data);
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <inheritdoc />
    public void Dispose() => _base.Dispose();

    private byte[] Materialize(long chunk)
    {
        if (_chunks.TryGetValue(chunk, out byte[]? data) && data is not null)
        {
            return data;
        }
        data = new byte[ChunkSize];
        bool wasZeroed = _chunks.ContainsKey(chunk);
        if (!wasZeroed)
        {
            int n = (int)Math.Min(ChunkSize, _base.Size - chunk);
            _base.Read(chunk, data.AsSpan(0, n));
        }
        _chunks[chunk] = data;
        return data;
    }
}
