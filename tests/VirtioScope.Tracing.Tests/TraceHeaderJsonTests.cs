using System.Text.Json;
using System.Text.Json.Serialization;
using VirtioScope.Block;
using VirtioScope.Tracing.Format;

namespace VirtioScope.Tracing.Tests;

/// <summary>The header's generated JSON metadata writes and reads what the reflection serializer did before it.</summary>
public class TraceHeaderJsonTests
{
    // The options the header was serialized with before the generated metadata (traces written then must still read).
    private static readonly JsonSerializerOptions Reflection = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
        TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(),
    };

    public static TheoryData<TraceHeader> Headers() => new()
    {
        new TraceHeader(),
        new TraceHeader
        {
            Source = "qemu-log",
            Replayable = false,
            FullData = true,
            MmioVersion = 1,
            TransportBase = 0xfeb0_0000,
            WindowSize = 0x200,
            VendorId = 0x554d4551,
            OfferedFeatures = 0x1_3000_0654,
            Device = new BlockDeviceOptions
            {
                Geometry = new BlockGeometry(1024, 16, 63),
                NumQueues = 4,
                Serial = "serial \"quoted\" é",
                WriteCache = WriteCacheMode.WriteThrough,
                BlockSize = 4096,
            },
            Memory = [new MemoryRegionInfo(0x4000_0000, 64UL << 20), new MemoryRegionInfo(0x1_0000_0000, 1UL << 20)],
            Backend = new BackendInfo { Kind = "image", Format = "qcow2", Path = "/tmp/a b.qcow2", VirtualSize = 1L << 30, ReadOnly = true },
            Description = "run --workload randread",
        },
    };

    [Theory]
    [MemberData(nameof(Headers))]
    public void Generated_json_equals_the_reflection_serializers_and_round_trips(TraceHeader header)
    {
        byte[] generated = header.ToJson();
        Assert.Equal(JsonSerializer.SerializeToUtf8Bytes(header, Reflection), generated);
        TraceHeader back = TraceHeader.FromJson(generated);
        Assert.Equal(generated, back.ToJson());
        Assert.Equal(header.Device, back.Device);
        Assert.Equal(header.Backend, back.Backend);
        Assert.Equal(header.Memory, back.Memory);
    }
}
