using VirtioScope.Block;

namespace VirtioScope.Block.Tests;

/// <summary>A memory backend that records any I/O outside the medium instead of serving it.</summary>
internal sealed class CheckedBackend(long size) : IBlockBackend
{
    private readonly MemoryBackend _inner = new(size);

    public List<string> Violations { get; } = [];

    public long Size => _inner.Size;
    public bool IsReadOnly => false;
    public BlockCapabilities Capabilities => _inner.Capabilities;

    private bool Check(string op, long offset, long length)
    {
        if (offset < 0 || length < 0 || offset > Size || length > Size - offset)
        {
            Violations.Add($"{op} {offset}+{length}");
            return false;
        }
        return true;
    }

    public void Read(long offset, Span<byte> destination)
    {
        if (Check("read", offset, destination.Length))
        {
            _inner.Read(offset, destination);
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        if (Check("write", offset, source.Length))
        {
            _inner.Write(offset, source);
        }
    }

    public void Flush() { }

    public void Discard(long offset, long length) => Check("discard", offset, length);

    public void WriteZeroes(long offset, long length, ZeroingMode mode)
    {
        if (Check("write-zeroes", offset, length))
        {
            _inner.WriteZeroes(offset, length, mode);
        }
    }

    public void Dispose() => _inner.Dispose();
}
