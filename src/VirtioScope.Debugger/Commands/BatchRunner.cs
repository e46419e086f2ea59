using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace VirtioScope.Debugger;

/// <summary>Batch mode: reads commands one per line, runs each, prints text or one JSON object per command.</summary>
public static class BatchRunner
{
    private static readonly JsonSerializerOptions Json = CreateJsonOptions();

    private static readonly JsonTypeInfo<CommandResult> ResultInfo = (JsonTypeInfo<CommandResult>)Json.GetTypeInfo(typeof(CommandResult));

    /// <summary>
    /// The batch JSON settings, with <paramref name="more"/> contracts for result data of other front ends (the
    /// vhost-user debugger's views): data types are resolved at compile time, never by reflection.
    /// </summary>
    public static JsonSerializerOptions CreateJsonOptions(IJsonTypeInfoResolver? more = null) => new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // Output goes to terminals and files, not into HTML: keep '>' and friends readable.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        TypeInfoResolver = more is null ? BatchJsonContext.Default : JsonTypeInfoResolver.Combine(more, BatchJsonContext.Default),
    };

    /// <summary>Runs every command of <paramref name="input"/> (blank lines and # comments skipped); returns how many failed.</summary>
    public static int Run(CommandInterpreter interpreter, TextReader input, TextWriter output, bool json)
    {
        ArgumentNullException.ThrowIfNull(interpreter);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        int failed = 0;
        while (input.ReadLine() is { } line)
        {
            string trimmed = line.Trim();
            if (trimmed.Length == 0 || trimmed.StartsWith('#'))
            {
                continue;
            }
            CommandResult result = interpreter.Execute(trimmed);
            failed += result.Ok ? 0 : 1;
            if (json)
            {
                output.WriteLine(ToJson(result));
            }
            else
            {
                output.Write($"({result.Command})\n{TextFormatter.Format(result)}");
            }
            if (result.Quit)
            {
                break;
            }
        }
        output.Flush();
        return failed;
    }

    /// <summary>One result as a single-line JSON object.</summary>
    public static string ToJson(CommandResult result) => JsonSerializer.Serialize(result, ResultInfo);

    /// <summary>One result as a single-line JSON object, with options from <see cref="CreateJsonOptions"/>.</summary>
    public static string ToJson(CommandResult result, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return JsonSerializer.Serialize(result, (JsonTypeInfo<CommandResult>)options.GetTypeInfo(typeof(CommandResult)));
    }
}
