using Microsoft.Win32.SafeHandles;
using VirtioScope.Images.Raw;

namespace VirtioScope.Images.Vmdk;

/// <summary>One extent of a VMDK: a run of the virtual disk stored flat, sparse or not at all (ZERO).</summary>
internal abstract class VmdkExtent : IDisposable
{
    /// <summary>Length of the extent in bytes.</summary>
    public required long Length { get; init; }

    /// <summary>Fills <paramref name="destination"/> from byte <paramref name="offset"/> of the extent.</summary>
    public abstract void Read(long offset, Span<byte> destination);

    /// <summary>The storage of the run at <paramref name="offset"/> of the extent (offsets relative to the extent).</summary>
    public abstract ImageExtent GetExtent(long offset, long length);

    /// <summary>Bytes of host file this extent allocates (for info).</summary>
    public abstract string? HostPath { get; }

    public abstract void Dispose();
}

/// <summary>A ZERO extent: reads as zeroes, stores nothing.</summary>
internal sealed class VmdkZeroExtent : VmdkExtent
{
    public override string? HostPath => null;

    public override void Read(long offset, Span<byte> destination) => destination.Clear();

    public override ImageExtent GetExtent(long offset, long length) => new(offset, length, ExtentKind.Zero, null, -1);

    public override void Dispose()
    {
    }
}

/// <summary>A FLAT (or VMFS) extent: a byte range of a plain file starting at a sector offset.</summary>
internal sealed class VmdkFlatExtent : VmdkExtent
{
    private readonly SafeFileHandle _file;
    private readonly long _base;

    public VmdkFlatExtent(string path, SafeFileHandle file, long baseOffset)
    {
        HostPath = path;
        _file = file;
        _base = baseOffset;
    }

    public override string HostPath { get; }

    public override void Read(long offset, Span<byte> destination) => HostFile.ReadFull(_file, destination, _base + offset);

    public override ImageExtent GetExtent(long offset, long length) => new(offset, length, ExtentKind.Data, HostPath, _base + offset);

    public override void Dispose() => _file.Dispose();
}
