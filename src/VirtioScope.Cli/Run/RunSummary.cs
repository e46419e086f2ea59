using System.Globalization;
using System.Text;
using System.Text.Json;
using VirtioScope.Block;
using VirtioScope.Guest;
using VirtioScope.Guest.Workloads;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Cli.Run;

/// <summary>What <c>run</c> reports, in text or JSON.</summary>
internal sealed record RunSummary
{
    public required string Workload { get; init; }
    public long Requests { get; init; }
    public long BytesRead { get; init; }
    public long BytesWritten { get; init; }
    public long Ok { get; init; }
    public long IoErr { get; init; }
    public long Unsupp { get; init; }
    public long NoStatus { get; init; }
    public double ElapsedSeconds { get; init; }
    public long Notifications { get; init; }
    public long SuppressedNotifications { get; init; }
    public long Interrupts { get; init; }
    public long SuppressedInterrupts { get; init; }
    public long Verified { get; init; }
    public long VerifyFailures { get; init; }
    public long DeviceResets { get; init; }
    public bool Hostile { get; init; }

    public double Iops => ElapsedSeconds > 0 ? Requests / ElapsedSeconds : 0;

    public double MegabytesPerSecond => ElapsedSeconds > 0 ? (BytesRead + BytesWritten) / 1e6 / ElapsedSeconds : 0;

    /// <summary>1 for verify failures, or for request errors outside the hostile workload, where errors are the point.</summary>
    public int ExitCode => VerifyFailures > 0 || (!Hostile && IoErr + Unsupp + NoStatus > 0) ? ExitCodes.Failures : ExitCodes.Success;

    public static RunSummary From(RunSettings s, WorkloadResult r, BlockStatistics device, TransportStatistics transport) => new()
    {
        Workload = s.Workload,
        Requests = r.Requests,
        BytesRead = r.BytesRead,
        BytesWritten = r.BytesWritten,
        Ok = r.ErrorsByStatus.Ok,
        IoErr = r.ErrorsByStatus.IoErr,
        Unsupp = r.ErrorsByStatus.Unsupp,
        NoStatus = r.ErrorsByStatus.NoStatus + r.ErrorsByStatus.Aborted,
        ElapsedSeconds = r.Elapsed.TotalSeconds,
        Notifications = transport.Notifications,
        SuppressedNotifications = r.SuppressedNotifications,
        Interrupts = transport.InterruptsRaised,
        SuppressedInterrupts = transport.InterruptsSuppressed,
        Verified = r.Verified,
        VerifyFailures = r.VerifyFailures,
        DeviceResets = r.DeviceResets,
        Hostile = s.IsHostile,
    };

    public void Write(TextWriter output, bool json)
    {
        if (json)
        {
            using var stream = new MemoryStream();
            using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                w.WriteStartObject();
                w.WriteString("workload", Workload);
                w.WriteNumber("requests", Requests);
                w.WriteNumber("bytes_read", BytesRead);
                w.WriteNumber("bytes_written", BytesWritten);
                w.WriteStartObject("errors");
                w.WriteNumber("ioerr", IoErr);
                w.WriteNumber("unsupp", Unsupp);
                w.WriteNumber("no_status", NoStatus);
                w.WriteEndObject();
                w.WriteNumber("elapsed_s", Math.Round(ElapsedSeconds, 6));
                w.WriteNumber("iops", Math.Round(Iops, 1));
                w.WriteNumber("mb_per_s", Math.Round(MegabytesPerSecond, 1));
                w.WriteNumber("notifications", Notifications);
                w.WriteNumber("suppressed_notifications", SuppressedNotifications);
                w.WriteNumber("interrupts", Interrupts);
                w.WriteNumber("suppressed_interrupts", SuppressedInterrupts);
                w.WriteNumber("verified", Verified);
                w.WriteNumber("verify_failures", VerifyFailures);
                w.WriteNumber("device_resets", DeviceResets);
                w.WriteEndObject();
            }
            output.WriteLine(Encoding.UTF8.GetString(stream.ToArray()));
            return;
        }
        CultureInfo c = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(c, $"workload        {Workload}"));
        output.WriteLine(string.Create(c, $"requests        {Requests} ({Ok} ok, {IoErr} ioerr, {Unsupp} unsupp, {NoStatus} without status)"));
        output.WriteLine(string.Create(c, $"bytes           {BytesRead} read, {BytesWritten} written"));
        output.WriteLine(string.Create(c, $"elapsed         {ElapsedSeconds:F3} s, {Iops:F0} IOPS, {MegabytesPerSecond:F1} MB/s"));
        output.WriteLine(string.Create(c, $"notifications   {Notifications} sent, {SuppressedNotifications} suppressed"));
        output.WriteLine(string.Create(c, $"interrupts      {Interrupts} raised, {SuppressedInterrupts} suppressed"));
        output.WriteLine(string.Create(c, $"verified        {Verified} reads, {VerifyFailures} failures"));
        if (DeviceResets > 0)
        {
            output.WriteLine(string.Create(c, $"device resets   {DeviceResets}"));
        }
    }
}
