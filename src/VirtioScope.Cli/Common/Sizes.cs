using System.Globalization;

namespace VirtioScope.Cli;

/// <summary>Sizes written the way qemu-img writes them: bytes, or a number with k, M, G, T (binary multiples).</summary>
internal static class Sizes
{
    /// <summary>Parses a size; <see cref="FormatException"/> names what is wrong.</summary>
    public static long Parse(string text, string what = "size")
    {
        string t = text.Trim();
        long multiplier = 1;
        if (t.Length > 0 && char.IsLetter(t[^1]))
        {
            multiplier = char.ToUpperInvariant(t[^1]) switch
            {
                'B' => 1,
                'K' => 1L << 10,
                'M' => 1L << 20,
                'G' => 1L << 30,
                'T' => 1L << 40,
                'P' => 1L << 50,
                'E' => 1L << 60,
                _ => throw new FormatException($"invalid {what} '{text}': unknown suffix '{t[^1]}'"),
            };
            t = t[..^1];
        }
        if (!decimal.TryParse(t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal value) || value < 0)
        {
            throw new FormatException($"invalid {what} '{text}'");
        }
        decimal bytes = value * multiplier;
        if (bytes > long.MaxValue)
        {
            throw new FormatException($"{what} '{text}' is too large");
        }
        return (long)bytes;
    }
}
