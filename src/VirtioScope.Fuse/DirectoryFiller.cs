namespace VirtioScope.Fuse;

/// <summary>Adds entries to the reply of one <see cref="IFuseFileSystem.ReadDir"/> call (libfuse's filler).</summary>
public readonly unsafe ref struct DirectoryFiller
{
    private readonly nint _buffer;
    private readonly delegate* unmanaged<nint, byte*, nint, long, int, int> _filler;

    internal DirectoryFiller(nint buffer, nint filler)
    {
        _buffer = buffer;
        _filler = (delegate* unmanaged<nint, byte*, nint, long, int, int>)filler;
    }

    /// <summary>Adds one entry; <paramref name="name"/> is UTF-8 and must end with a NUL byte.</summary>
    /// <returns>False when the reply buffer is full.</returns>
    public bool Add(ReadOnlySpan<byte> name)
    {
        if (name.IsEmpty || name[^1] != 0)
        {
            throw new ArgumentException("the name must end with a NUL byte", nameof(name));
        }
        fixed (byte* p = name)
        {
            return _filler(_buffer, p, 0, 0, 0) == 0;
        }
    }
}
