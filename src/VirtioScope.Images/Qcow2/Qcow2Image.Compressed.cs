using static VirtioScope.Images.Qcow2.Qcow2Layout;

namespace VirtioScope.Images.Qcow2;

public sealed partial class Qcow2Image : ICompressedWriter
{
    int ICompressedWriter.ClusterSize => _header.ClusterSize;

    /// <inheritdoc />
    public int Compress(ReadOnlySpan<byte> cluster, Span<byte> destination)
    {
        if (cluster.Length != _header.ClusterSize)
        {
            throw new ArgumentException("a whole cluster is required", nameof(cluster));
        }
        return Qcow2Compression.Compress(_header.CompressionType, cluster, destination);
    }

    /// <inheritdoc />
    public void WriteCompressed(long guestCluster, ReadOnlySpan<byte> compressed)
    {
        ThrowIfReadOnly();
        CheckRange(guestCluster << _geo.ClusterBits, _header.ClusterSize);
        if (_header.HasDataFile)
        {
            throw new ImageException(ImageErrorKind.UnsupportedFeature, FilePath, "data file", "compressed clusters are not allowed with an external data file");
        }
        lock (_lock)
        {
            (ulong old, _) = LookupLocked(guestCluster);
            long offset = AllocateBytesLocked(compressed.Length);
            RandomAccess.Write(_file, compressed, offset);
            ulong[] table = GetL2ForWriteLocked(guestCluster >> _geo.L2Bits);
            SetEntryLocked(table, guestCluster, _geo.CompressedEntry(offset, compressed.Length), 0);
            ReleaseLocked(old);
        }
    }

    /// <summary>
    /// Byte-granular space for compressed data, packed after the previous piece. Each host cluster a piece touches
    /// gets one reference per piece, which is what <c>qemu-img check</c> counts.
    /// </summary>
    private long AllocateBytesLocked(int length)
    {
        Qcow2Refcounts rc = _refcounts!;
        int cs = _header.ClusterSize;
        long p = _compressedCursor;
        if (p % cs != 0)
        {
            long c = p >> _geo.ClusterBits;
            long endCluster = (p + length - 1) >> _geo.ClusterBits;
            bool fits = rc.Get(c) is > 0 and var r && r < rc.MaxRefcount;
            for (long k = c + 1; fits && k <= endCluster; k++)
            {
                fits = rc.IsFreeCovered(k);
            }
            if (fits)
            {
                rc.Add(c, 1);
                for (long k = c + 1; k <= endCluster; k++)
                {
                    rc.Set(k, 1);
                }
                _compressedCursor = p + length;
                _fileLength = Math.Max(_fileLength, (endCluster + 1) << _geo.ClusterBits);
                return p;
            }
        }
        int clusters = (length + cs - 1) / cs;
        long start = AllocateMetadataLocked(clusters);
        _compressedCursor = start + length;
        return start;
    }
}
