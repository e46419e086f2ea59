using System.Globalization;
using System.Text.Json;
using VirtioScope.Images;

namespace VirtioScope.Cli.Images;

/// <summary>Shared pieces of the image verbs: error reporting, qemu-img size syntax, -o lists and JSON output.</summary>
internal static class CliSupport
{
    /// <summary>Runs a verb body; expected failures become one line on stderr and <paramref name="errorCode"/>.</summary>
    public static int Run(Func<int> body, int errorCode = 1)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or FormatException or InvalidOperationException)
        {
            Console.Error.WriteLine($"virtioscope: {OneLine(e.Message)}");
            return errorCode;
        }
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ");

    /// <summary>Parses qemu-img sizes: bytes, or a number with k, M, G, T, P or E (binary multiples), fractions allowed.</summary>
    public static long ParseSize(string text, string what = "size")
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
                _ => throw new FormatException($"invalid {what} '{text}': unknown suffix"),
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

    /// <summary>Applies a qemu-img <c>-o key=value,...</c> list to create options.</summary>
    public static ImageCreateOptions ApplyOptions(ImageCreateOptions o, string? list)
    {
        if (string.IsNullOrEmpty(list))
        {
            return o;
        }
        foreach (string item in list.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = item.IndexOf('=', StringComparison.Ordinal);
            string key = eq < 0 ? item : item[..eq];
            string value = eq < 0 ? "on" : item[(eq + 1)..];
            o = key switch
            {
                "cluster_size" => o with { ClusterSize = checked((int)ParseSize(value, key)) },
                "compat" => o with { Version = value switch { "0.10" or "v2" => 2, "1.1" or "v3" => 3, _ => throw new FormatException($"invalid compat '{value}' (0.10 or 1.1)") } },
                "compression_type" => o with { Compression = value switch { "zlib" => CompressionType.Zlib, "zstd" => CompressionType.Zstd, _ => throw new FormatException($"invalid compression_type '{value}' (zlib or zstd)") } },
                "extended_l2" => o with { ExtendedL2 = OnOff(key, value) },
                "lazy_refcounts" => o with { LazyRefcounts = OnOff(key, value) },
                "refcount_bits" => o with { RefcountBits = int.Parse(value, CultureInfo.InvariantCulture) },
                "preallocation" => o with { Preallocation = value switch { "off" => Preallocation.Off, "metadata" => Preallocation.Metadata, "falloc" => Preallocation.Falloc, "full" => Preallocation.Full, _ => throw new FormatException($"invalid preallocation '{value}' (off, metadata, falloc, full)") } },
                "backing_file" or "parent" => o with { BackingFile = value },
                "backing_fmt" => o with { BackingFormat = ImageFormatNames.Parse(value) },
                "data_file" => o with { DataFile = value },
                "size" => o with { Size = ParseSize(value) },
                "subformat" => o with { Subformat = value },
                "block_size" => o with { BlockSize = checked((int)ParseSize(value, key)) },
                "log_size" => o with { LogSize = ParseSize(value, key) },
                "logical_sector_size" => o with { LogicalSectorSize = checked((int)ParseSize(value, key)) },
                "force_size" => o with { ForceSize = OnOff(key, value) },
                _ => throw new FormatException($"invalid option '{key}' for -o"),
            };
        }
        return o;
    }

    private static bool OnOff(string key, string value) => value switch
    {
        "on" or "true" or "yes" => true,
        "off" or "false" or "no" => false,
        _ => throw new FormatException($"invalid {key} '{value}' (on or off)"),
    };

    /// <summary>qemu's size_to_str: three significant digits and a binary unit.</summary>
    public static string HumanSize(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        double v = bytes;
        int i = 0;
        while (i < units.Length - 1 && v / Math.Pow(1024, i + 1) >= 1000.0 / 1024)
        {
            i++;
        }
        double shown = v / Math.Pow(1024, i);
        return $"{shown.ToString("G3", CultureInfo.InvariantCulture)} {units[i]}";
    }

    /// <summary>qemu-img's JSON layout: 4-space indentation.</summary>
    public static Utf8JsonWriter JsonWriter(Stream stream) => new(stream, new JsonWriterOptions { Indented = true, IndentSize = 4 });

    /// <summary>Opens an image for a verb with the -f format.</summary>
    public static IDiskImage Open(string path, string? format, bool readOnly, bool openBacking = true)
        => DiskImage.Open(path, new ImageOpenOptions { Format = ImageFormatNames.Parse(format), ReadOnly = readOnly, OpenBacking = openBacking });
}
