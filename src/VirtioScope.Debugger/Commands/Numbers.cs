using System.Globalization;

namespace VirtioScope.Debugger;

/// <summary>Parses the numbers of the command language: decimal, or hexadecimal with 0x.</summary>
public static class Numbers
{
    /// <summary>Parses <paramref name="text"/> as a number from 0 to <paramref name="max"/>, naming <paramref name="what"/> in the error.</summary>
    public static long Parse(string text, string what, long max)
    {
        ArgumentNullException.ThrowIfNull(text);
        bool ok = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? long.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long value)
            : long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        if (!ok || value < 0 || value > max)
        {
            throw new CommandException(string.Create(CultureInfo.InvariantCulture, $"{what} '{text}' is not a number from 0 to {max}"));
        }
        return value;
    }
}
