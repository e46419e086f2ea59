using System.Text.Json;

namespace VirtioScope.Cli.Trace;

/// <summary>Error handling and output helpers shared by <c>replay</c> and <c>trace</c>.</summary>
internal static class TraceCli
{
    /// <summary>Runs a verb body; trace, file and usage errors become one line on stderr and exit code 2.</summary>
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
        {
            Console.Error.WriteLine($"virtioscope: {e.Message}");
            return ExitCodes.Usage;
        }
    }

    /// <summary>Writes one JSON document to stdout followed by a newline.</summary>
    public static void Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            write(w);
        }
        Console.Out.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
    }

    /// <summary>Prints the reader's truncation note on stderr, if any.</summary>
    public static void WarnIfCut(Tracing.Format.TraceReader reader, string path)
    {
        if (reader.TruncationNote is { } note)
        {
            Console.Error.WriteLine($"virtioscope: {path}: {note}");
        }
    }
}
