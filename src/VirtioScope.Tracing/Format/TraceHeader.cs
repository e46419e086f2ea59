using System.Text.Json;
using System.Text.Json.Serialization;
using VirtioScope.Block;

namespace VirtioScope.Tracing.Format;

/// <summary>One region of the sandbox's guest-physical memory.</summary>
public sealed record MemoryRegionInfo(ulong Base, ulong Size);

/// <summary>What served the blocks when the trace was made.</summary>
public sealed record BackendInfo
{
    /// <summary>"memory" for a zeroed in-memory disk, "image" for a disk image, "none" for an imported log.</summary>
    public string Kind { get; init; } = "memory";

    /// <summary>Image format (raw, qcow2, ...) or "memory".</summary>
    public string Format { get; init; } = "memory";

    /// <summary>Image path as given when recording (informative only).</summary>
    public string? Path { get; init; }

    /// <summary>Virtual size in bytes.</summary>
    public long VirtualSize { get; init; }

    /// <summary>Whether the backend refused writes.</summary>
    public bool ReadOnly { get; init; }
}

/// <summary>
/// The trace's description, stored as UTF-8 JSON after the fixed file header: everything needed to rebuild the device
/// and the sandbox for replay.
/// </summary>
public sealed record TraceHeader
{
    /// <summary>"virtioscope" for a recording, "qemu-log" for an imported QEMU trace log.</summary>
    public string Source { get; init; } = "virtioscope";

    /// <summary>Whether the trace holds guest memory and backend hashes, so that it can be replayed.</summary>
    public bool Replayable { get; init; } = true;

    /// <summary>Whether device writes to guest memory carry their bytes (recorded with --full), not only a hash.</summary>
    public bool FullData { get; init; }

    /// <summary>virtio-mmio version: 1 legacy, 2 modern.</summary>
    public int MmioVersion { get; init; } = 2;

    /// <summary>Guest-physical base of the register window.</summary>
    public ulong TransportBase { get; init; }

    /// <summary>Size of the register window.</summary>
    public ulong WindowSize { get; init; }

    /// <summary>VendorID register value.</summary>
    public uint VendorId { get; init; }

    /// <summary>VirtIO device ID (2 for block).</summary>
    public uint DeviceId { get; init; } = 2;

    /// <summary>Feature bits the transport offered.</summary>
    public ulong OfferedFeatures { get; init; }

    /// <summary>Device configuration (null for an imported log).</summary>
    public BlockDeviceOptions? Device { get; init; }

    /// <summary>Sandbox layout.</summary>
    public IReadOnlyList<MemoryRegionInfo> Memory { get; init; } = [];

    /// <summary>Backend identity.</summary>
    public BackendInfo Backend { get; init; } = new();

    /// <summary>Free-form description of what was run (workload, seed, ...).</summary>
    public string? Description { get; init; }

    /// <summary>Serializes to UTF-8 JSON.</summary>
    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, TraceHeaderJson.Default.TraceHeader);

    /// <summary>Parses the JSON description; throws <see cref="InvalidDataException"/> when it is not one.</summary>
    public static TraceHeader FromJson(ReadOnlySpan<byte> utf8)
    {
        try
        {
            return JsonSerializer.Deserialize(utf8, TraceHeaderJson.Default.TraceHeader)
                ?? throw new InvalidDataException("trace header: JSON description is null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"trace header: JSON description is malformed: {e.Message}", e);
        }
    }
}
