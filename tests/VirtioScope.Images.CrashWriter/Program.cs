using VirtioScope.Block;
using VirtioScope.Images;

// Usage: CrashWriter IMAGE SEED — random writes, zeroes, discards, compressed writes and flushes until killed.
string path = args[0];
var rng = new Random(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
using IDiskImage image = DiskImage.Open(path);
var writer = image as ICompressedWriter;
long size = image.VirtualSize;
byte[] buf = new byte[256 * 1024];
Console.Out.WriteLine("ready");
Console.Out.Flush();
while (true)
{
    int len = rng.Next(1, buf.Length);
    long off = rng.NextInt64(0, size - len);
    switch (rng.Next(12))
    {
        case < 7:
            rng.NextBytes(buf.AsSpan(0, len));
            image.Write(off, buf.AsSpan(0, len));
            break;
        case 7:
            image.WriteZeroes(off, len, ZeroingMode.MayUnmap);
            break;
        case 8:
            image.Discard(off, len);
            break;
        case 9 when writer is not null:
            int cs = writer.ClusterSize;
            long gc = rng.NextInt64(0, size / cs);
            byte[] cluster = new byte[cs];
            cluster.AsSpan().Fill((byte)rng.Next(256));
            byte[] compressed = new byte[cs];
            int n = writer.Compress(cluster, compressed);
            if (n > 0)
            {
                writer.WriteCompressed(gc, compressed.AsSpan(0, n));
            }
            break;
        default:
            image.Flush();
            break;
    }
}
