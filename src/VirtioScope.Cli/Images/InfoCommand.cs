using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using VirtioScope.Images;

namespace VirtioScope.Cli.Images;

/// <summary><c>info [-f FMT] [--output human|json] [--backing-chain] IMAGE</c>, with qemu-img's field names.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var format = new Option<string?>("-f") { Description = "Image format (detected when omitted)" };
        var output = new Option<string>("--output") { Description = "human or json", DefaultValueFactory = _ => "human" };
        output.AcceptOnlyFromAmong("human", "json");
        var chain = new Option<bool>("--backing-chain") { Description = "Show every image of the backing chain" };
        var image = new Argument<string>("IMAGE") { Description = "The image file" };
        var cmd = new Command("info", "Show an image's format, sizes, backing file and format-specific details");
        cmd.Options.Add(format);
        cmd.Options.Add(output);
        cmd.Options.Add(chain);
        cmd.Arguments.Add(image);
        cmd.SetAction(pr => CliSupport.Run(() => Execute(pr.GetValue(image)!, pr.GetValue(format), pr.GetValue(output) == "json", pr.GetValue(chain))));
        return cmd;
    }

    private static int Execute(string path, string? format, bool json, bool chain)
    {
        using IDiskImage top = CliSupport.Open(path, format, readOnly: true, openBacking: chain);
        var layers = new List<IDiskImage>();
        for (IDiskImage? l = top; l is not null; l = chain ? l.Backing : null)
        {
            layers.Add(l);
        }
        if (json)
        {
            using Stream stdout = Console.OpenStandardOutput();
            using (Utf8JsonWriter w = CliSupport.JsonWriter(stdout))
            {
                if (chain)
                {
                    w.WriteStartArray();
                }
                foreach (IDiskImage l in layers)
                {
                    WriteJson(w, l);
                }
                if (chain)
                {
                    w.WriteEndArray();
                }
            }
            stdout.Write("\n"u8);
            return 0;
        }
        var sb = new StringBuilder();
        for (int i = 0; i < layers.Count; i++)
        {
            if (i > 0)
            {
                sb.AppendLine();
            }
            WriteHuman(sb, layers[i]);
        }
        Console.Out.Write(sb.ToString());
        return 0;
    }

    private static void WriteJson(Utf8JsonWriter w, IDiskImage image)
    {
        var d = image as IImageDetails;
        w.WriteStartObject();
        if (d?.BackingFormat is { } bf)
        {
            w.WriteString("backing-filename-format", bf);
        }
        if (image is ISnapshotStore { Snapshots.Count: > 0 } store)
        {
            w.WriteStartArray("snapshots");
            foreach (SnapshotInfo s in store.Snapshots)
            {
                w.WriteStartObject();
                w.WriteNumber("icount", s.Icount);
                w.WriteNumber("vm-clock-nsec", s.VmClockNanoseconds % 1_000_000_000);
                w.WriteString("name", s.Name);
                w.WriteNumber("date-sec", s.Date.ToUnixTimeSeconds());
                w.WriteNumber("date-nsec", (s.Date.Ticks % TimeSpan.TicksPerSecond) * 100);
                w.WriteNumber("vm-clock-sec", s.VmClockNanoseconds / 1_000_000_000);
                w.WriteString("id", s.Id);
                w.WriteNumber("vm-state-size", s.VmStateSize);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteNumber("virtual-size", image.VirtualSize);
        w.WriteString("filename", image.FilePath);
        if (d?.ClusterSize is { } cs)
        {
            w.WriteNumber("cluster-size", cs);
        }
        w.WriteString("format", image.Format.ToName());
        w.WriteNumber("actual-size", image.ActualSize);
        if (d is not null && d.FormatSpecific.Count > 0)
        {
            w.WriteStartObject("format-specific");
            w.WriteString("type", image.Format.ToName());
            w.WriteStartObject("data");
            WriteFields(w, d.FormatSpecific);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        if (d?.FullBackingFileName is { } full)
        {
            w.WriteString("full-backing-filename", full);
        }
        if (d?.BackingFileName is { } bn)
        {
            w.WriteString("backing-filename", bn);
        }
        w.WriteBoolean("dirty-flag", d?.DirtyFlag ?? false);
        w.WriteEndObject();
    }

    private static void WriteFields(Utf8JsonWriter w, IEnumerable<KeyValuePair<string, object>> fields)
    {
        foreach (KeyValuePair<string, object> kv in fields)
        {
            switch (kv.Value)
            {
                case bool b: w.WriteBoolean(kv.Key, b); break;
                case int n: w.WriteNumber(kv.Key, n); break;
                case long n: w.WriteNumber(kv.Key, n); break;
                case IEnumerable<string> strings:
                    w.WriteStartArray(kv.Key);
                    foreach (string item in strings)
                    {
                        w.WriteStringValue(item);
                    }
                    w.WriteEndArray();
                    break;
                case IEnumerable<IReadOnlyList<KeyValuePair<string, object>>> objects:
                    w.WriteStartArray(kv.Key);
                    foreach (IReadOnlyList<KeyValuePair<string, object>> o in objects)
                    {
                        w.WriteStartObject();
                        WriteFields(w, o);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    break;
                default: w.WriteString(kv.Key, kv.Value.ToString()); break;
            }
        }
    }

    /// <summary>qemu-img's human layout: "name: value", names with spaces, arrays as "[i]:" blocks four spaces deeper.</summary>
    private static void AppendFields(StringBuilder sb, IEnumerable<KeyValuePair<string, object>> fields, string indent)
    {
        foreach (KeyValuePair<string, object> kv in fields)
        {
            sb.Append(indent).Append(kv.Key.Replace('-', ' ')).Append(':');
            if (kv.Value is IEnumerable<string> strings)
            {
                sb.AppendLine();
                int k = 0;
                foreach (string item in strings)
                {
                    sb.Append(indent).Append("    [").Append(k++).Append("]: ").AppendLine(item);
                }
                continue;
            }
            if (kv.Value is IEnumerable<IReadOnlyList<KeyValuePair<string, object>>> objects)
            {
                sb.AppendLine();
                int i = 0;
                foreach (IReadOnlyList<KeyValuePair<string, object>> o in objects)
                {
                    sb.Append(indent).Append("    [").Append(i++).AppendLine("]:");
                    AppendFields(sb, o, indent + "        ");
                }
                continue;
            }
            string value = kv.Value is bool b ? (b ? "true" : "false") : Convert.ToString(kv.Value, CultureInfo.InvariantCulture)!;
            sb.Append(' ').AppendLine(value);
        }
    }

    private static void WriteHuman(StringBuilder sb, IDiskImage image)
    {
        var d = image as IImageDetails;
        var inv = CultureInfo.InvariantCulture;
        sb.Append("image: ").AppendLine(image.FilePath);
        sb.Append("file format: ").AppendLine(image.Format.ToName());
        sb.Append(inv, $"virtual size: {CliSupport.HumanSize(image.VirtualSize)} ({image.VirtualSize} bytes)").AppendLine();
        sb.Append("disk size: ").AppendLine(CliSupport.HumanSize(image.ActualSize));
        if (d?.ClusterSize is { } cs)
        {
            sb.Append(inv, $"cluster_size: {cs}").AppendLine();
        }
        if (d?.BackingFileName is { } bn)
        {
            sb.Append("backing file: ").Append(bn);
            if (d.FullBackingFileName is { } full && full != bn)
            {
                sb.Append(" (actual path: ").Append(full).Append(')');
            }
            sb.AppendLine();
        }
        if (d?.BackingFormat is { } bf)
        {
            sb.Append("backing file format: ").AppendLine(bf);
        }
        if (image is ISnapshotStore { Snapshots.Count: > 0 } store)
        {
            sb.AppendLine("Snapshot list:");
            SnapshotCommand.AppendTable(sb, store.Snapshots);
        }
        if (d is not null && d.FormatSpecific.Count > 0)
        {
            sb.AppendLine("Format specific information:");
            AppendFields(sb, d.FormatSpecific, "    ");
        }
    }
}
