using System.Buffers;
using System.CommandLine;
using VirtioScope.Images;

namespace VirtioScope.Cli.Images;

/// <summary><c>compare [-f FMT] [-F FMT] [-s] A B</c>: exit 0 identical, 1 different (first offset printed), 2 error.</summary>
internal static class CompareCommand
{
    private const int Chunk = 1 << 20;

    public static Command Create()
    {
        var formatA = new Option<string?>("-f") { Description = "Format of the first image" };
        var formatB = new Option<string?>("-F") { Description = "Format of the second image" };
        var strict = new Option<bool>("-s") { Description = "Strict: images of different sizes differ" };
        var quiet = new Option<bool>("-q") { Description = "Print nothing" };
        var a = new Argument<string>("A") { Description = "First image" };
        var b = new Argument<string>("B") { Description = "Second image" };
        var cmd = new Command("compare", "Compare the contents of two images");
        foreach (Option o in new Option[] { formatA, formatB, strict, quiet })
        {
            cmd.Options.Add(o);
        }
        cmd.Arguments.Add(a);
        cmd.Arguments.Add(b);
        cmd.SetAction(pr => CliSupport.Run(() =>
        {
            using IDiskImage x = CliSupport.Open(pr.GetValue(a)!, pr.GetValue(formatA), readOnly: true);
            using IDiskImage y = CliSupport.Open(pr.GetValue(b)!, pr.GetValue(formatB), readOnly: true);
            bool q = pr.GetValue(quiet);
            if (pr.GetValue(strict) && x.VirtualSize != y.VirtualSize)
            {
                if (!q)
                {
                    Console.Out.WriteLine("Strict mode: Image size mismatch!");
                }
                return 1;
            }
            long? diff = FirstDifference(x, y);
            if (diff is { } at)
            {
                if (!q)
                {
                    Console.Out.WriteLine($"Content mismatch at offset {at}!");
                }
                return 1;
            }
            if (!q)
            {
                Console.Out.WriteLine("Images are identical.");
            }
            return 0;
        }, errorCode: 2));
        return cmd;
    }

    /// <summary>The first differing byte; past the shorter image the longer one must read as zeroes.</summary>
    private static long? FirstDifference(IDiskImage x, IDiskImage y)
    {
        long common = Math.Min(x.VirtualSize, y.VirtualSize);
        byte[] bx = ArrayPool<byte>.Shared.Rent(Chunk);
        byte[] by = ArrayPool<byte>.Shared.Rent(Chunk);
        try
        {
            for (long pos = 0; pos < common; pos += Chunk)
            {
                int n = (int)Math.Min(Chunk, common - pos);
                if (ImageMap.IsZero(x, pos, n) && ImageMap.IsZero(y, pos, n))
                {
                    continue;
                }
                x.Read(pos, bx.AsSpan(0, n));
                y.Read(pos, by.AsSpan(0, n));
                int same = bx.AsSpan(0, n).CommonPrefixLength(by.AsSpan(0, n));
                if (same < n)
                {
                    return pos + same;
                }
            }
            IDiskImage longer = x.VirtualSize > y.VirtualSize ? x : y;
            for (long pos = common; pos < longer.VirtualSize; pos += Chunk)
            {
                int n = (int)Math.Min(Chunk, longer.VirtualSize - pos);
                if (ImageMap.IsZero(longer, pos, n))
                {
                    continue;
                }
                longer.Read(pos, bx.AsSpan(0, n));
                int nz = bx.AsSpan(0, n).IndexOfAnyExcept((byte)0);
                if (nz >= 0)
                {
                    return pos + nz;
                }
            }
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bx);
            ArrayPool<byte>.Shared.Return(by);
        }
    }
}
