using System.Globalization;
using System.Text.RegularExpressions;
using VirtioScope.Tracing.Format;
using VirtioScope.Virtio;

namespace VirtioScope.Tracing.Import;

/// <summary>What an import found.</summary>
public sealed record ImportResult(long Lines, long Events, long RegisterAccesses, long Notes, long IgnoredLines, int MmioVersion);

/// <summary>
/// Converts the log that <c>qemu-system-* -trace 'virtio_mmio_*' -trace 'virtio_blk_*' -D LOG</c> writes (with or
/// without <c>-msg timestamp=on</c>) into a register-level trace. QEMU logs the offset and value of register writes,
/// only the offset of reads, never access widths and no guest memory: reads become
/// <see cref="RecordKind.MmioReadUnvalued"/> records (width 4 for control registers, 0 meaning "not logged" in config
/// space), the QueueNum check becomes a <see cref="RecordKind.QueueLimit"/> record, IRQ changes
/// <see cref="RecordKind.IrqLevel"/> records, and the virtio_blk events and guest page size <see cref="RecordKind.Note"/>
/// records. The trace is marked not replayable.
/// </summary>
public static partial class QemuLogImporter
{
    /// <summary>Imports <paramref name="logPath"/> into a trace at <paramref name="tracePath"/>.</summary>
    /// <param name="logPath">The QEMU log.</param>
    /// <param name="tracePath">The trace to write.</param>
    /// <param name="mmioVersion">1 or 2; null detects it from the registers the driver writes (legacy-only or v2-only ones).</param>
    /// <exception cref="InvalidDataException">A virtio_mmio line does not have the fields its event should have, or the log has no virtio_mmio events.</exception>
    public static ImportResult Import(string logPath, string tracePath, int? mmioVersion = null)
    {
        ArgumentNullException.ThrowIfNull(logPath);
        ArgumentNullException.ThrowIfNull(tracePath);
        int version = mmioVersion ?? DetectVersion(logPath);
        if (version is not (1 or 2))
        {
            throw new ArgumentOutOfRangeException(nameof(mmioVersion), "virtio-mmio version must be 1 or 2");
        }
        var header = new TraceHeader
        {
            Source = "qemu-log",
            Replayable = false,
            MmioVersion = version,
            DeviceId = 2,
            Backend = new BackendInfo { Kind = "none", Format = "none", Path = Path.GetFullPath(logPath) },
            Description = $"imported from QEMU trace log {Path.GetFileName(logPath)}",
        };
        long lines = 0, accesses = 0, notes = 0, ignored = 0;
        using var writer = new TraceWriter(tracePath, header);
        foreach (string raw in File.ReadLines(logPath))
        {
            lines++;
            if (!TryParse(raw, out string name, out string message))
            {
                ignored++;
                continue;
            }
            switch (name)
            {
                case "virtio_mmio_read":
                    int offset = (int)Hex(ReadPattern(), message, lines, "offset");
                    writer.MmioReadUnvalued((uint)offset, offset >= MmioRegisters.Config ? 0 : 4);
                    accesses++;
                    break;
                case "virtio_mmio_write_offset":
                    Match w = Require(WritePattern(), message, lines, name);
                    writer.Mmio(true, (uint)ParseNumber(w.Groups[1].Value, lines, "offset"), 4, (uint)ParseNumber(w.Groups[2].Value, lines, "value"));
                    accesses++;
                    break;
                case "virtio_mmio_queue_write":
                    Match q = Require(QueueWritePattern(), message, lines, name);
                    writer.QueueLimit(ParseNumber(q.Groups[1].Value, lines, "value"), ParseNumber(q.Groups[2].Value, lines, "max"));
                    break;
                case "virtio_mmio_setting_irq":
                    Match irq = Require(IrqPattern(), message, lines, name);
                    writer.IrqLevel((uint)ParseNumber(irq.Groups[1].Value, lines, "level"));
                    break;
                default:
                    if (name.StartsWith("virtio_mmio_", StringComparison.Ordinal) || name.StartsWith("virtio_blk_", StringComparison.Ordinal))
                    {
                        writer.Note($"{name}: {message}");
                        notes++;
                    }
                    else
                    {
                        ignored++;
                    }
                    break;
            }
        }
        if (accesses == 0)
        {
            throw new InvalidDataException($"{logPath}: no virtio_mmio_read or virtio_mmio_write_offset lines; was QEMU run with -trace 'virtio_mmio_*'?");
        }
        long events = writer.EventCount;
        return new ImportResult(lines, events, accesses, notes, ignored, version);
    }

    /// <summary>1 if the driver wrote a legacy-only register (GuestPageSize, QueueAlign, QueuePFN), else 2.</summary>
    public static int DetectVersion(string logPath)
    {
        foreach (string raw in File.ReadLines(logPath))
        {
            if (TryParse(raw, out string name, out string message) && name == "virtio_mmio_write_offset"
                && WritePattern().Match(message) is { Success: true } m
                && ulong.TryParse(m.Groups[1].ValueSpan[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong offset))
            {
                if (offset is MmioRegisters.GuestPageSize or MmioRegisters.QueueAlign or MmioRegisters.QueuePfn)
                {
                    return 1;
                }
                if (offset is MmioRegisters.QueueReady or MmioRegisters.QueueDescLow or MmioRegisters.QueueDriverLow or MmioRegisters.QueueDeviceLow)
                {
                    return 2;
                }
            }
        }
        return 2;
    }

    private static bool TryParse(string line, out string name, out string message)
    {
        Match m = LinePattern().Match(line);
        if (!m.Success)
        {
            name = message = "";
            return false;
        }
        name = m.Groups["name"].Value;
        message = m.Groups["message"].Value;
        return true;
    }

    private static Match Require(Regex pattern, string message, long line, string name)
    {
        Match m = pattern.Match(message);
        if (!m.Success)
        {
            throw new InvalidDataException($"QEMU log line {line}: {name} without the expected fields: \"{message}\"");
        }
        return m;
    }

    private static ulong Hex(Regex pattern, string message, long line, string field)
    {
        Match m = Require(pattern, message, line, field);
        return ParseNumber(m.Groups[1].Value, line, field);
    }

    private static ulong ParseNumber(string text, long line, string field)
    {
        bool ok = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(text.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong v)
            : ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out v);
        if (!ok)
        {
            throw new InvalidDataException($"QEMU log line {line}: field '{field}' is not a number: \"{text}\"");
        }
        return v;
    }

    // "[pid@sec.usec:]name message", where QEMU 7 repeats the event name at the start of the message for virtio_mmio_read.
    [GeneratedRegex(@"^(?:\d+@\d+\.\d+:)?(?<name>[a-z0-9_]+) (?<message>.*)$")]
    private static partial Regex LinePattern();

    [GeneratedRegex(@"offset (0x[0-9a-fA-F]+)")]
    private static partial Regex ReadPattern();

    [GeneratedRegex(@"offset (0x[0-9a-fA-F]+) value (0x[0-9a-fA-F]+)")]
    private static partial Regex WritePattern();

    [GeneratedRegex(@"write (0x[0-9a-fA-F]+|\d+) max (0x[0-9a-fA-F]+|\d+)")]
    private static partial Regex QueueWritePattern();

    [GeneratedRegex(@"IRQ (\d+)")]
    private static partial Regex IrqPattern();
}
