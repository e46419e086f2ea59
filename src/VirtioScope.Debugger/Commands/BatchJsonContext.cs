using System.Text.Json.Serialization;
using VirtioScope.Debugger.Sources;

namespace VirtioScope.Debugger;

/// <summary>
/// Compile-time JSON contracts for batch output, so the debugger needs no reflection (the published tool is native
/// AOT). <see cref="CommandResult.Data"/> is serialized by its runtime type: every type a command returns is listed
/// here, and one the list lacks fails the batch JSON tests rather than a user.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CommandResult))]
[JsonSerializable(typeof(MoveResult))]
[JsonSerializable(typeof(BreakpointRow))]
[JsonSerializable(typeof(List<BreakpointRow>))]
[JsonSerializable(typeof(List<EventRow>))]
[JsonSerializable(typeof(DeviceSnapshot))]
[JsonSerializable(typeof(QueueSnapshot))]
[JsonSerializable(typeof(RequestView))]
[JsonSerializable(typeof(BackendView))]
[JsonSerializable(typeof(ComposedRequest))]
[JsonSerializable(typeof(InfoResult))]
[JsonSerializable(typeof(string[]))]
internal sealed partial class BatchJsonContext : JsonSerializerContext;
