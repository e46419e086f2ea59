using System.Runtime.InteropServices;
using ZstdSharp;

namespace VirtioScope.Images.Qcow2;

/// <summary>
/// Compressed-cluster codecs. zlib goes through the system libz because QEMU writes and reads raw deflate with a 4 KiB
/// window (windowBits -12), which the BCL's DeflateStream cannot produce; zstd goes through the system libzstd when it
/// loads (<see cref="NativeZstd"/>) and through ZstdSharp otherwise.
/// </summary>
internal static unsafe partial class Qcow2Compression
{
    private const string LibZ = "libz.so.1";
    private const int ZOk = 0;
    private const int ZStreamEnd = 1;
    private const int ZBufError = -5;
    private const int ZFinish = 4;
    private const int ZDeflated = 8;
    private const int ZDefaultStrategy = 0;
    private const int ZDefaultCompression = -1;

    [StructLayout(LayoutKind.Sequential)]
    private struct ZStream
    {
        public byte* NextIn;
        public uint AvailIn;
        public nuint TotalIn;
        public byte* NextOut;
        public uint AvailOut;
        public nuint TotalOut;
        public nint Msg;
        public nint State;
        public nint ZAlloc;
        public nint ZFree;
        public nint Opaque;
        public int DataType;
        public nuint Adler;
        public nuint Reserved;
    }

    [LibraryImport(LibZ, EntryPoint = "deflateInit2_")]
    private static partial int DeflateInit2(ZStream* strm, int level, int method, int windowBits, int memLevel, int strategy, byte* version, int streamSize);

    [LibraryImport(LibZ, EntryPoint = "deflate")]
    private static partial int Deflate(ZStream* strm, int flush);

    [LibraryImport(LibZ, EntryPoint = "deflateEnd")]
    private static partial int DeflateEnd(ZStream* strm);

    [LibraryImport(LibZ, EntryPoint = "inflateInit2_")]
    private static partial int InflateInit2(ZStream* strm, int windowBits, byte* version, int streamSize);

    [LibraryImport(LibZ, EntryPoint = "inflate")]
    private static partial int Inflate(ZStream* strm, int flush);

    [LibraryImport(LibZ, EntryPoint = "inflateEnd")]
    private static partial int InflateEnd(ZStream* strm);

    [ThreadStatic]
    private static Compressor? t_zstdCompressor;

    [ThreadStatic]
    private static Decompressor? t_zstdDecompressor;

    private static readonly byte[] ZlibVersion = "1.2.13\0"u8.ToArray();

    /// <summary>
    /// Compresses one cluster into <paramref name="destination"/>; returns the compressed length, or -1 when the
    /// result would not be smaller than the cluster (the caller then writes it uncompressed).
    /// </summary>
    public static int Compress(CompressionType type, ReadOnlySpan<byte> source, Span<byte> destination)
    {
        int limit = Math.Min(destination.Length, source.Length - 1);
        return type == CompressionType.Zstd ? CompressZstd(source, destination[..limit]) : CompressZlib(source, destination[..limit]);
    }

    private static int CompressZstd(ReadOnlySpan<byte> source, Span<byte> destination)
        => NativeZstd.IsAvailable ? NativeZstd.Compress(source, destination) : CompressZstdManaged(source, destination);

    private static int CompressZlib(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        ZStream z = default;
        fixed (byte* version = ZlibVersion)
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            if (DeflateInit2(&z, ZDefaultCompression, ZDeflated, -12, 9, ZDefaultStrategy, version, sizeof(ZStream)) != ZOk)
            {
                throw new InvalidOperationException("zlib deflateInit2 failed");
            }
            try
            {
                z.NextIn = src;
                z.AvailIn = (uint)source.Length;
                z.NextOut = dst;
                z.AvailOut = (uint)destination.Length;
                int rc = Deflate(&z, ZFinish);
                return rc == ZStreamEnd ? (int)z.TotalOut : -1;
            }
            finally
            {
                _ = DeflateEnd(&z);
            }
        }
    }

    /// <summary>
    /// Decompresses one cluster from <paramref name="source"/> (which may carry trailing bytes of the next compressed
    /// cluster) into <paramref name="destination"/>; false when the data is malformed or too short.
    /// </summary>
    public static bool Decompress(CompressionType type, ReadOnlySpan<byte> source, Span<byte> destination)
        => type == CompressionType.Zstd ? DecompressZstd(source, destination) : DecompressZlib(source, destination);

    private static bool DecompressZlib(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        ZStream z = default;
        fixed (byte* version = ZlibVersion)
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            if (InflateInit2(&z, -15, version, sizeof(ZStream)) != ZOk)
            {
                throw new InvalidOperationException("zlib inflateInit2 failed");
            }
            try
            {
                z.NextIn = src;
                z.AvailIn = (uint)source.Length;
                z.NextOut = dst;
                z.AvailOut = (uint)destination.Length;
                int rc = Inflate(&z, ZFinish);
                // Like QEMU: success once the cluster is full, whether or not the stream's end marker was reached.
                return (rc == ZStreamEnd || rc == ZBufError || rc == ZOk) && z.AvailOut == 0;
            }
            finally
            {
                _ = InflateEnd(&z);
            }
        }
    }

    private static bool DecompressZstd(ReadOnlySpan<byte> source, Span<byte> destination)
        => NativeZstd.IsAvailable ? NativeZstd.Decompress(source, destination) : DecompressZstdManaged(source, destination);

    /// <summary>The managed codec, used where libzstd is missing; internal so tests cross-check it against the native one.</summary>
    internal static int CompressZstdManaged(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        t_zstdCompressor ??= new Compressor();
        return t_zstdCompressor.TryWrap(source, destination, out int written) ? written : -1;
    }

    /// <summary>The managed decompressor (see <see cref="CompressZstdManaged"/>).</summary>
    internal static bool DecompressZstdManaged(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        t_zstdDecompressor ??= new Decompressor();
        // The descriptor covers whole sectors; trim to the frame so trailing bytes of a neighbour are not parsed.
        ulong frame;
        fixed (byte* src = source)
        {
            frame = ZstdSharp.Unsafe.Methods.ZSTD_findFrameCompressedSize(src, (nuint)source.Length);
        }
        if (ZstdSharp.Unsafe.Methods.ZSTD_isError((nuint)frame) || frame > (ulong)source.Length)
        {
            return false;
        }
        try
        {
            return t_zstdDecompressor.TryUnwrap(source[..(int)frame], destination, out int written) && written == destination.Length;
        }
        catch (ZstdException)
        {
            return false;
        }
    }
}
