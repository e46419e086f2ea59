namespace VirtioScope.Images.Tests;

internal static class TestData
{
    public static byte[] ReadAll(IDiskImage image)
    {
        byte[] all = new byte[image.VirtualSize];
        const int chunk = 1 << 20;
        for (long off = 0; off < all.Length; off += chunk)
        {
            image.Read(off, all.AsSpan((int)off, (int)Math.Min(chunk, all.Length - off)));
        }
        return all;
    }

    public static void AssertSame(byte[] expected, byte[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        int i = expected.AsSpan().CommonPrefixLength(actual);
        if (i != expected.Length)
        {
            Assert.Fail($"{what}: first difference at byte {i} (0x{i:x}): expected {expected[i]}, got {actual[i]}");
        }
    }
}
