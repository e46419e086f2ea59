using System.Text.Json.Serialization;

namespace VirtioScope.Tracing.Format;

/// <summary>Compile-time JSON contract of <see cref="TraceHeader"/>: no reflection, so the native AOT tool reads traces.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(TraceHeader))]
internal sealed partial class TraceHeaderJsonContext : JsonSerializerContext;
