using VirtioScope.Tracing.Analysis;
using VirtioScope.Tracing.Format;
using VirtioScope.Tracing.Import;
using VirtioScope.Virtio;

namespace VirtioScope.Tracing.Tests;

public sealed class ImportLintTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vstrace-import-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    private (ImportResult Result, TraceReader Reader) Import(string log)
    {
        string trace = Path.Combine(_dir, Path.GetFileNameWithoutExtension(log) + $"-{Guid.NewGuid():n}.vstrace");
        ImportResult result = QemuLogImporter.Import(log, trace);
        return (result, TraceReader.Open(trace));
    }

    private string Edited(string fixture, Func<List<string>, List<string>> edit)
    {
        string path = Path.Combine(_dir, $"edited-{Guid.NewGuid():n}.log");
        File.WriteAllLines(path, edit([.. File.ReadAllLines(Fixture(fixture))]));
        return path;
    }

    [Theory]
    [InlineData("qemu-virtio-mmio-legacy.log", 1)]
    [InlineData("qemu-virtio-mmio-modern.log", 2)]
    public void Real_qemu_logs_import_as_register_level_traces(string fixture, int version)
    {
        (ImportResult r, TraceReader reader) = Import(Fixture(fixture));
        using (reader)
        {
            Assert.Equal(version, r.MmioVersion);
            Assert.Equal(version, reader.Header.MmioVersion);
            Assert.False(reader.Header.Replayable);
            Assert.Equal("qemu-log", reader.Header.Source);
            Assert.Equal(0, r.IgnoredLines);
            TraceEvent[] events = [.. reader.Events()];
            Assert.Contains(events, e => e.Kind == RecordKind.MmioWrite && e.Address == MmioRegisters.Status && e.Value == (version == 1 ? 7UL : 0xfUL));
            Assert.Contains(events, e => e.Kind == RecordKind.MmioWrite && e.Address == MmioRegisters.QueueNotify);
            Assert.Contains(events, e => e.Kind == RecordKind.QueueLimit);
            Assert.Contains(events, e => e.Kind == RecordKind.IrqLevel && e.Value == 1);
            Assert.Contains(events, e => e.Kind == RecordKind.Note && e.Text!.StartsWith("virtio_blk_handle_write", StringComparison.Ordinal));
            Assert.All(events.Where(e => e.Kind == RecordKind.MmioReadUnvalued), e => Assert.Equal(e.Address >= 0x100 ? 0 : 4, e.Length));
        }
    }

    [Theory]
    [InlineData("qemu-virtio-mmio-legacy.log")]
    [InlineData("qemu-virtio-mmio-modern.log")]
    public void The_linux_driver_lints_clean(string fixture)
    {
        (_, TraceReader reader) = Import(Fixture(fixture));
        using (reader)
        {
            IReadOnlyList<LintViolation> v = TraceLinter.Lint(reader);
            Assert.True(v.Count == 0, string.Join("\n", v));
        }
    }

    [Fact]
    public void A_queue_size_edited_to_a_non_power_of_two_is_reported_at_its_write()
    {
        string log = Edited("qemu-virtio-mmio-modern.log", lines => [.. lines.Select(l => l.EndsWith("offset 0x38 value 0x400", StringComparison.Ordinal) ? l.Replace("0x400", "0x300", StringComparison.Ordinal) : l)]);
        (_, TraceReader reader) = Import(log);
        using (reader)
        {
            long at = reader.Events().First(e => e.Kind == RecordKind.MmioWrite && e.Address == MmioRegisters.QueueNum).Number;
            IReadOnlyList<LintViolation> v = TraceLinter.Lint(reader);
            LintViolation only = Assert.Single(v);
            Assert.Equal(LintRules.QueueNumNotPowerOfTwo, only.Rule);
            Assert.Equal(at, only.EventNumber);
        }
    }

    [Fact]
    public void A_notification_moved_before_driver_ok_is_reported()
    {
        string log = Edited("qemu-virtio-mmio-legacy.log", lines =>
        {
            int driverOk = lines.FindIndex(l => l.EndsWith("offset 0x70 value 0x7", StringComparison.Ordinal));
            lines.Insert(driverOk, "virtio_mmio_write_offset virtio_mmio_write offset 0x50 value 0x0");
            return lines;
        });
        (_, TraceReader reader) = Import(log);
        using (reader)
        {
            long at = reader.Events().First(e => e.Kind == RecordKind.MmioWrite && e.Address == MmioRegisters.QueueNotify).Number;
            LintViolation only = Assert.Single(TraceLinter.Lint(reader));
            Assert.Equal(LintRules.NotifyBeforeDriverOk, only.Rule);
            Assert.Equal(at, only.EventNumber);
        }
    }

    [Fact]
    public void Dropping_the_config_generation_re_read_is_reported()
    {
        string log = Edited("qemu-virtio-mmio-modern.log", lines =>
        {
            int capacityHigh = lines.FindIndex(l => l.EndsWith("virtio_mmio_read offset 0x104", StringComparison.Ordinal));
            Assert.EndsWith("offset 0xfc", lines[capacityHigh + 1]);
            lines.RemoveAt(capacityHigh + 1);
            return lines;
        });
        (_, TraceReader reader) = Import(log);
        using (reader)
        {
            LintViolation only = Assert.Single(TraceLinter.Lint(reader));
            Assert.Equal(LintRules.ConfigGeneration, only.Rule);
        }
    }

    [Fact]
    public void Features_written_after_features_ok_and_status_out_of_order_are_reported()
    {
        string log = Edited("qemu-virtio-mmio-modern.log", lines =>
        {
            int featuresOk = lines.FindIndex(l => l.EndsWith("offset 0x70 value 0xb", StringComparison.Ordinal));
            lines.Insert(featuresOk + 1, "virtio_mmio_write_offset virtio_mmio_write offset 0x20 value 0x1");
            int ack = lines.FindIndex(l => l.EndsWith("offset 0x70 value 0x1", StringComparison.Ordinal));
            lines[ack] = lines[ack].Replace("value 0x1", "value 0x2", StringComparison.Ordinal);
            return lines;
        });
        (_, TraceReader reader) = Import(log);
        using (reader)
        {
            IReadOnlyList<LintViolation> v = TraceLinter.Lint(reader);
            Assert.Contains(v, x => x.Rule == LintRules.FeaturesAfterFeaturesOk);
            Assert.Contains(v, x => x.Rule == LintRules.StatusOrder && x.Message.Contains("DRIVER set before ACKNOWLEDGE", StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void VirtioScopes_own_guest_lints_clean(bool legacy)
    {
        byte[] trace = TraceRig.Record(TraceRig.Options("randrw", legacy: legacy));
        using TraceReader reader = TraceRig.Open(trace);
        IReadOnlyList<LintViolation> v = TraceLinter.Lint(reader);
        Assert.True(v.Count == 0, string.Join("\n", v));
    }

    [Fact]
    public void A_log_without_virtio_mmio_lines_is_invalid_data()
    {
        string path = Path.Combine(_dir, "empty.log");
        File.WriteAllText(path, "something else entirely\n");
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => QemuLogImporter.Import(path, Path.Combine(_dir, "x.vstrace")));
        Assert.Contains("virtio_mmio", e.Message);
    }

    [Fact]
    public void A_malformed_write_line_names_its_line()
    {
        string path = Path.Combine(_dir, "bad.log");
        File.WriteAllText(path, "virtio_mmio_read virtio_mmio_read offset 0x0\nvirtio_mmio_write_offset virtio_mmio_write offset 0x70\n");
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => QemuLogImporter.Import(path, Path.Combine(_dir, "y.vstrace")));
        Assert.Contains("line 2", e.Message);
    }
}
