using System.Globalization;
using System.Text;
using System.Text.Json;
using VirtioScope.Tracing.Format;
using VirtioScope.Virtio;

namespace VirtioScope.Tracing.Analysis;

/// <summary>One bucket of the request count by type and status.</summary>
public sealed record RequestCount(string Type, string Status, long Count, long Bytes);

/// <summary>Requests the device found per queue notification (requests parsed until the next notification), for notifications in one slice of the trace.</summary>
public sealed record DepthSample(long FromEvent, long ToEvent, double MeanBatch, long MaxBatch);

/// <summary>A range of sectors and how often the backend touched it.</summary>
public sealed record SectorRange(ulong FirstSector, ulong LastSector, long Accesses);

/// <summary>
/// What <c>trace stats</c> reports: requests by type and status, bytes, queue depth over time (requests the device
/// found per notification), service-time percentiles (parse to completion, from the recorded timestamps) and the
/// most-accessed sector ranges.
/// </summary>
public sealed record TraceStatistics
{
    /// <summary>Sectors per range in <see cref="HotRanges"/> (1 MiB).</summary>
    public const ulong RangeSectors = 2048;

    /// <summary>Events in the trace.</summary>
    public long Events { get; init; }

    /// <summary>Events by record kind.</summary>
    public IReadOnlyDictionary<string, long> ByKind { get; init; } = new Dictionary<string, long>();

    /// <summary>Register reads and writes.</summary>
    public long MmioAccesses { get; init; }

    /// <summary>Queue notifications.</summary>
    public long Notifications { get; init; }

    /// <summary>Interrupts raised.</summary>
    public long Interrupts { get; init; }

    /// <summary>Requests by type and status.</summary>
    public IReadOnlyList<RequestCount> Requests { get; init; } = [];

    /// <summary>Bytes read from the backend.</summary>
    public long BytesRead { get; init; }

    /// <summary>Bytes written to the backend.</summary>
    public long BytesWritten { get; init; }

    /// <summary>Queue depth over time.</summary>
    public IReadOnlyList<DepthSample> Depth { get; init; } = [];

    /// <summary>Service time percentiles in microseconds (p50, p90, p99, max), or empty without timestamps.</summary>
    public IReadOnlyList<(string Name, double Micros)> Latency { get; init; } = [];

    /// <summary>The ten most-accessed 1 MiB sector ranges.</summary>
    public IReadOnlyList<SectorRange> HotRanges { get; init; } = [];

    /// <summary>Computes the statistics in one pass over the trace.</summary>
    public static TraceStatistics Compute(TraceReader reader, int depthSlices = 10)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var byKind = new Dictionary<string, long>();
        var pending = new Dictionary<(int Queue, int Id), (string Type, long Bytes, long Time)>();
        var requests = new Dictionary<(string, string), (long Count, long Bytes)>();
        var ranges = new Dictionary<ulong, long>();
        var latencies = new List<long>();
        long mmio = 0, notifies = 0, interrupts = 0, read = 0, written = 0;
        var batchesAt = new List<(long Notify, long Requests)>();
        long currentNotify = -1, currentBatch = 0;
        foreach (TraceEvent e in reader.Events())
        {
            string kind = e.Kind.ToString();
            byKind[kind] = byKind.GetValueOrDefault(kind) + 1;
            switch (e.Kind)
            {
                case RecordKind.MmioRead or RecordKind.MmioWrite or RecordKind.MmioReadUnvalued:
                    mmio++;
                    if (e.Kind == RecordKind.MmioWrite && e.Address == MmioRegisters.QueueNotify)
                    {
                        notifies++;
                        if (currentNotify >= 0)
                        {
                            batchesAt.Add((currentNotify, currentBatch));
                        }
                        currentNotify = e.Number;
                        currentBatch = 0;
                    }
                    break;
                case RecordKind.Interrupt:
                    interrupts++;
                    break;
                case RecordKind.Request:
                    pending[(e.Queue, e.Id)] = (RequestCodes.TypeName(e.Code), e.Length, e.Timestamp);
                    currentBatch++;
                    break;
                case RecordKind.Completion:
                    string type = "unknown";
                    long bytes = 0;
                    if (pending.Remove((e.Queue, e.Id), out var p))
                    {
                        type = p.Type;
                        bytes = p.Bytes;
                        if (e.Timestamp > 0 && p.Time > 0)
                        {
                            latencies.Add(e.Timestamp - p.Time);
                        }
                    }
                    var key = (type, RequestCodes.StatusName(e.Code));
                    (long c, long b) = requests.GetValueOrDefault(key);
                    requests[key] = (c + 1, b + bytes);
                    break;
                case RecordKind.BackendIo:
                    var op = (BackendOp)e.Code;
                    if (op == BackendOp.Read)
                    {
                        read += e.Length;
                    }
                    else if (op == BackendOp.Write)
                    {
                        written += e.Length;
                    }
                    if (op != BackendOp.Flush)
                    {
                        ulong first = e.Address / 512 / RangeSectors;
                        ulong last = (e.Address + (ulong)Math.Max(1, e.Length) - 1) / 512 / RangeSectors;
                        for (ulong r = first; r <= last && r < first + 64; r++)
                        {
                            ranges[r] = ranges.GetValueOrDefault(r) + 1;
                        }
                    }
                    break;
                default:
                    break;
            }
        }
        if (currentNotify >= 0)
        {
            batchesAt.Add((currentNotify, currentBatch));
        }
        var depth = new List<DepthSample>();
        long sliceSize = Math.Max(1, (reader.EventCount + depthSlices - 1) / depthSlices);
        for (long start = 0; start < reader.EventCount; start += sliceSize)
        {
            long end = Math.Min(reader.EventCount, start + sliceSize) - 1;
            var inSlice = batchesAt.Where(b => b.Notify >= start && b.Notify <= end).ToList();
            depth.Add(new DepthSample(start, end, inSlice.Count == 0 ? 0 : inSlice.Average(b => b.Requests), inSlice.Count == 0 ? 0 : inSlice.Max(b => b.Requests)));
        }
        latencies.Sort();
        var latency = new List<(string, double)>();
        if (latencies.Count > 0)
        {
            foreach ((string name, double q) in new[] { ("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("max", 1.0) })
            {
                int i = Math.Min(latencies.Count - 1, (int)Math.Ceiling(q * latencies.Count) - 1);
                latency.Add((name, latencies[Math.Max(0, i)] / 1000.0));
            }
        }
        return new TraceStatistics
        {
            Events = reader.EventCount,
            ByKind = byKind,
            MmioAccesses = mmio,
            Notifications = notifies,
            Interrupts = interrupts,
            Requests = [.. requests.OrderByDescending(kv => kv.Value.Count).Select(kv => new RequestCount(kv.Key.Item1, kv.Key.Item2, kv.Value.Count, kv.Value.Bytes))],
            BytesRead = read,
            BytesWritten = written,
            Depth = depth,
            Latency = latency,
            HotRanges = [.. ranges.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key).Take(10)
                .Select(kv => new SectorRange(kv.Key * RangeSectors, ((kv.Key + 1) * RangeSectors) - 1, kv.Value))],
        };
    }

    /// <summary>Human-readable report.</summary>
    public string ToText()
    {
        var sb = new StringBuilder();
        IFormatProvider c = CultureInfo.InvariantCulture;
        sb.AppendLine(c, $"events: {Events} ({string.Join(", ", ByKind.OrderByDescending(k => k.Value).Select(k => $"{k.Key} {k.Value}"))})");
        sb.AppendLine(c, $"register accesses: {MmioAccesses}, notifications: {Notifications}, interrupts: {Interrupts}");
        sb.AppendLine("requests:");
        foreach (RequestCount r in Requests)
        {
            sb.AppendLine(c, $"  {r.Type,-12} {r.Status,-7} {r.Count,10} requests {r.Bytes,14} bytes");
        }
        sb.AppendLine(c, $"backend bytes: read {BytesRead}, written {BytesWritten}");
        sb.AppendLine("queue depth over time (requests found per notification):");
        foreach (DepthSample d in Depth)
        {
            sb.AppendLine(c, $"  events {d.FromEvent,9}..{d.ToEvent,-9} mean {d.MeanBatch,6:F1} max {d.MaxBatch}");
        }
        if (Latency.Count > 0)
        {
            sb.AppendLine(c, $"service time (parse to completion): {string.Join(", ", Latency.Select(l => $"{l.Name} {l.Micros:F2} us"))}");
        }
        else
        {
            sb.AppendLine("service time: no timestamps in this trace");
        }
        sb.AppendLine("most-accessed sector ranges:");
        foreach (SectorRange r in HotRanges)
        {
            sb.AppendLine(c, $"  sectors {r.FirstSector}-{r.LastSector}: {r.Accesses} accesses");
        }
        return sb.ToString();
    }

    /// <summary>Writes the statistics as JSON.</summary>
    public void WriteJson(Utf8JsonWriter w)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteStartObject();
        w.WriteNumber("events", Events);
        w.WriteStartObject("byKind");
        foreach (KeyValuePair<string, long> k in ByKind)
        {
            w.WriteNumber(k.Key, k.Value);
        }
        w.WriteEndObject();
        w.WriteNumber("mmioAccesses", MmioAccesses);
        w.WriteNumber("notifications", Notifications);
        w.WriteNumber("interrupts", Interrupts);
        w.WriteStartArray("requests");
        foreach (RequestCount r in Requests)
        {
            w.WriteStartObject();
            w.WriteString("type", r.Type);
            w.WriteString("status", r.Status);
            w.WriteNumber("count", r.Count);
            w.WriteNumber("bytes", r.Bytes);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNumber("bytesRead", BytesRead);
        w.WriteNumber("bytesWritten", BytesWritten);
        w.WriteStartArray("depth");
        foreach (DepthSample d in Depth)
        {
            w.WriteStartObject();
            w.WriteNumber("from", d.FromEvent);
            w.WriteNumber("to", d.ToEvent);
            w.WriteNumber("mean", d.MeanBatch);
            w.WriteNumber("max", d.MaxBatch);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartObject("latencyMicros");
        foreach ((string name, double micros) in Latency)
        {
            w.WriteNumber(name, micros);
        }
        w.WriteEndObject();
        w.WriteStartArray("hotRanges");
        foreach (SectorRange r in HotRanges)
        {
            w.WriteStartObject();
            w.WriteNumber("firstSector", r.FirstSector);
            w.WriteNumber("lastSector", r.LastSector);
            w.WriteNumber("accesses", r.Accesses);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
