using VirtioScope.Block;

namespace VirtioScope.Guest.Tests;

/// <summary>A memory backend that flips one bit in every read covering <see cref="CorruptOffset"/>: verify must notice.</summary>
internal sealed class CorruptingBackend(long size) : IBlockBackend
{
    private readonly MemoryBackend _inner = new(size);

    public long CorruptOffset { get; set; } = -1;

    public long Size => _inner.Size;

    public bool IsReadOnly => false;

    public BlockCapabilities Capabilities => _inner.Capabilities;

    public void Read(long offset, Span<byte> destination)
    {
        _inner.Read(offset, destination);
        if (CorruptOffset >= offset && CorruptOffset < offset + destination.Length)
        {
            destination[(int)(CorruptOffset - offset)] ^= 0x10;
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> source) => _inner.Write(offset, source);

    public void Flush() => _inner.Flush();

    public void Discard(long offset, long length) => _inner.Discard(offset, length);

    public void WriteZeroes(long offset, long length, ZeroingMode mode) => _inner.WriteZeroes(offset, length, mode);

    public void Dispose() => _inner.Dispose();
}
