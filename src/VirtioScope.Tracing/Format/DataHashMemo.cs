using System.Runtime.CompilerServices;

namespace VirtioScope.Tracing.Format;

/// <summary>
/// Hashes data fields, remembering the last data hashed with a copy of its bytes: a backend read's bytes are hashed
/// again when the device's write of them to guest memory is recorded, and comparing 4 KiB with a copy costs a fraction
/// of hashing them (more so while the hash code is still unoptimized, early in a process). The hash is reused only for
/// byte-identical data, so the records are exactly what hashing every time writes.
/// </summary>
internal sealed class DataHashMemo
{
    /// <summary>Data shorter than this is hashed directly (ring entries, status bytes).</summary>
    public const int MinimumLength = 256;

    /// <summary>Data longer than this is hashed directly (one copy per hash would cost more than it saves).</summary>
    public const int MaximumLength = 64 << 10;

    private readonly byte[] _last = new byte[MaximumLength];
    private int _lastLength = -1;
    private ulong _lastHash;

    /// <summary>XxHash3 of <paramref name="data"/>, as <see cref="RecordEncoder.Hash"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong Hash(ReadOnlySpan<byte> data)
    {
        if (data.Length < MinimumLength || data.Length > MaximumLength)
        {
            return RecordEncoder.Hash(data);
        }
        if (data.Length == _lastLength && data.SequenceEqual(_last.AsSpan(0, _lastLength)))
        {
            return _lastHash;
        }
        ulong hash = RecordEncoder.Hash(data);
        data.CopyTo(_last);
        _lastLength = data.Length;
        _lastHash = hash;
        return hash;
    }
}
