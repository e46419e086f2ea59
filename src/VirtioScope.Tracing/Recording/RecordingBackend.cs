using VirtioScope.Block;
using System.Runtime.CompilerServices;
using VirtioScope.Tracing.Format;

namespace VirtioScope.Tracing.Recording;

/// <summary>
/// Wraps the device's backend and puts a <see cref="RecordKind.BackendIo"/> record in the sink for every call:
/// reads after the inner read (hash of the bytes returned), everything else before the inner call. The sink may be
/// attached after construction (the trace header needs the device, which needs this backend).
/// </summary>
public sealed class RecordingBackend(IBlockBackend inner, ITraceSink? sink = null) : IBlockBackend
{
    private readonly IBlockBackend _inner = inner ?? throw new ArgumentNullException(nameof(inner));

    /// <summary>Where the records go; null records nothing.</summary>
    public ITraceSink? Sink { get; set; } = sink;

    /// <summary>The wrapped backend.</summary>
    public IBlockBackend Inner => _inner;

    /// <inheritdoc />
    public long Size => _inner.Size;

    /// <inheritdoc />
    public bool IsReadOnly => _inner.IsReadOnly;

    /// <inheritdoc />
    public BlockCapabilities Capabilities => _inner.Capabilities;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Read(long offset, Span<byte> destination)
    {
        _inner.Read(offset, destination);
        Sink?.BackendIo(BackendOp.Read, offset, destination.Length, destination);
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        Sink?.BackendIo(BackendOp.Write, offset, source.Length, source);
        _inner.Write(offset, source);
    }

    /// <inheritdoc />
    public void Flush()
    {
        Sink?.BackendIo(BackendOp.Flush, 0, 0, default);
        _inner.Flush();
    }

    /// <inheritdoc />
    public void Discard(long offset, long length)
    {
        Sink?.BackendIo(BackendOp.Discard, offset, length, default);
        _inner.Discard(offset, length);
    }

    /// <inheritdoc />
    public void WriteZeroes(long offset, long length, ZeroingMode mode)
    {
        Sink?.BackendIo(mode == ZeroingMode.MayUnmap ? BackendOp.WriteZeroesUnmap : BackendOp.WriteZeroes, offset, length, default);
        _inner.WriteZeroes(offset, length, mode);
    }

    /// <summary>Disposes the wrapped backend.</summary>
    public void Dispose() => _inner.Dispose();
}
