using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Text;

namespace VirtioScope.Tracing.Format;

/// <summary>Appends encoded records to a growable buffer (one chunk's decompressed payload).</summary>
internal sealed class RecordEncoder
{
    private byte[] _buffer = new byte[BufferSize];

    /// <summary>Bytes encoded so far.</summary>
    public int Length { get; private set; }

    /// <summary>Records encoded so far.</summary>
    public int Count { get; private set; }

    /// <summary>The encoded payload.</summary>
    public ReadOnlySpan<byte> Payload => _buffer.AsSpan(0, Length);

    /// <summary>Starts a new chunk.</summary>
    public void Clear()
    {
        Length = 0;
        Count = 0;
    }

    /// <summary>The buffer holding the encoded payload (its first <see cref="Length"/> bytes).</summary>
    public byte[] Buffer => _buffer;

    /// <summary>Hands the filled buffer over and starts a new chunk in <paramref name="fresh"/>.</summary>
    public byte[] Swap(byte[] fresh)
    {
        byte[] full = _buffer;
        _buffer = fresh;
        Clear();
        return full;
    }

    /// <summary>Size of a fresh chunk buffer: a chunk plus room for the record that closes it.</summary>
    public const int BufferSize = TraceLayout.ChunkTarget + (64 << 10);

    /// <summary>Hash used for every data field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static ulong Hash(ReadOnlySpan<byte> data) => XxHash3.HashToUInt64(data);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Mmio(RecordKind kind, uint offset, int width, uint value)
    {
        Span<byte> s = Reserve(1 + (2 * Varint.MaxBytes) + 1);
        int n = 0;
        s[n++] = (byte)kind;
        n += Varint.Write(s[n..], offset);
        s[n++] = (byte)width;
        if (kind != RecordKind.MmioReadUnvalued)
        {
            n += Varint.Write(s[n..], value);
        }
        Commit(n);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void GuestRead(ulong address, ReadOnlySpan<byte> bytes)
    {
        Span<byte> s = Reserve(1 + (2 * Varint.MaxBytes) + bytes.Length);
        int n = 0;
        s[n++] = (byte)RecordKind.GuestRead;
        n += Varint.Write(s[n..], address);
        n += Varint.Write(s[n..], (ulong)bytes.Length);
        bytes.CopyTo(s[n..]);
        Commit(n + bytes.Length);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void DeviceWrite(ulong address, long length, ulong hash, ReadOnlySpan<byte> bytesOrEmpty)
    {
        Span<byte> s = Reserve(1 + (2 * Varint.MaxBytes) + 8 + 1 + bytesOrEmpty.Length);
        int n = 0;
        s[n++] = (byte)RecordKind.DeviceWrite;
        n += Varint.Write(s[n..], address);
        n += Varint.Write(s[n..], (ulong)length);
        BinaryPrimitives.WriteUInt64LittleEndian(s[n..], hash);
        n += 8;
        s[n++] = bytesOrEmpty.IsEmpty ? (byte)0 : (byte)1;
        bytesOrEmpty.CopyTo(s[n..]);
        Commit(n + bytesOrEmpty.Length);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Single(RecordKind kind, ulong value)
    {
        Span<byte> s = Reserve(1 + Varint.MaxBytes);
        s[0] = (byte)kind;
        Commit(1 + Varint.Write(s[1..], value));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void BackendIo(BackendOp op, long offset, long length, ulong hash)
    {
        Span<byte> s = Reserve(2 + (2 * Varint.MaxBytes) + 8);
        int n = 0;
        s[n++] = (byte)RecordKind.BackendIo;
        s[n++] = (byte)op;
        n += Varint.Write(s[n..], (ulong)offset);
        n += Varint.Write(s[n..], (ulong)length);
        if (op is BackendOp.Read or BackendOp.Write)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(s[n..], hash);
            n += 8;
        }
        Commit(n);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Request(int queue, int id, byte type, ulong sector, long dataBytes, int segments, int rejection, long timestamp)
    {
        Span<byte> s = Reserve(2 + (7 * Varint.MaxBytes));
        int n = 0;
        s[n++] = (byte)RecordKind.Request;
        n += Varint.Write(s[n..], (ulong)queue);
        n += Varint.Write(s[n..], (ulong)id);
        s[n++] = type;
        n += Varint.Write(s[n..], sector);
        n += Varint.Write(s[n..], (ulong)dataBytes);
        n += Varint.Write(s[n..], (ulong)segments);
        n += Varint.Write(s[n..], (ulong)rejection);
        n += Varint.Write(s[n..], (ulong)Math.Max(0, timestamp));
        Commit(n);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Completion(int queue, int id, byte status, uint used, long timestamp)
    {
        Span<byte> s = Reserve(2 + (4 * Varint.MaxBytes));
        int n = 0;
        s[n++] = (byte)RecordKind.Completion;
        n += Varint.Write(s[n..], (ulong)queue);
        n += Varint.Write(s[n..], (ulong)id);
        s[n++] = status;
        n += Varint.Write(s[n..], used);
        n += Varint.Write(s[n..], (ulong)Math.Max(0, timestamp));
        Commit(n);
    }

    public void Text(RecordKind kind, string text)
    {
        int max = Encoding.UTF8.GetMaxByteCount(text.Length);
        Span<byte> s = Reserve(1 + Varint.MaxBytes + max);
        int bytes = Encoding.UTF8.GetByteCount(text);
        int n = 0;
        s[n++] = (byte)kind;
        n += Varint.Write(s[n..], (ulong)bytes);
        n += Encoding.UTF8.GetBytes(text, s[n..]);
        Commit(n);
    }

    public void QueueLimit(ulong value, ulong max)
    {
        Span<byte> s = Reserve(1 + (2 * Varint.MaxBytes));
        int n = 0;
        s[n++] = (byte)RecordKind.QueueLimit;
        n += Varint.Write(s[n..], value);
        n += Varint.Write(s[n..], max);
        Commit(n);
    }

    private Span<byte> Reserve(int bytes)
    {
        if (_buffer.Length - Length < bytes)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, Length + bytes));
        }
        return _buffer.AsSpan(Length);
    }

    private void Commit(int bytes)
    {
        Length += bytes;
        Count++;
    }
}
