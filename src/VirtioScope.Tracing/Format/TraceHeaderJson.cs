using System.Text.Json.Serialization;

namespace VirtioScope.Tracing.Format;

/// <summary>
/// Compile-time JSON metadata for <see cref="TraceHeader"/>: camelCase, enums as strings, nulls left out (the format's
/// description). Generated rather than reflected because the reflection serializer emits and compiles code at run
/// time, which in <c>run --record</c> competed with the recording for the JIT and the two cores, and which the native
/// AOT tool cannot do at all.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(TraceHeader))]
internal sealed partial class TraceHeaderJson : JsonSerializerContext;
