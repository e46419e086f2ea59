using System.Text.Json.Serialization;
using VirtioScope.Debugger;

namespace VirtioScope.VhostDebug;

/// <summary>Compile-time JSON contracts of the vhost-user debugger's result data (batch output without reflection).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(VhostMoveResult))]
[JsonSerializable(typeof(VhostQueueView))]
[JsonSerializable(typeof(VhostNegotiationView))]
[JsonSerializable(typeof(VhostInfo))]
[JsonSerializable(typeof(RequestView))]
[JsonSerializable(typeof(List<RequestView>))]
[JsonSerializable(typeof(RequestView[]))]
[JsonSerializable(typeof(List<EventRow>))]
[JsonSerializable(typeof(EventRow[]))]
[JsonSerializable(typeof(List<BreakpointRow>))]
[JsonSerializable(typeof(BreakpointRow))]
[JsonSerializable(typeof(string[]))]
internal sealed partial class VhostJsonContext : JsonSerializerContext;
