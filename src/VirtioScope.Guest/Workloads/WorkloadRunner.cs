using System.Diagnostics;

namespace VirtioScope.Guest.Workloads;

/// <summary>Runs a named workload against an initialised (or not yet initialised) guest driver.</summary>
public static class WorkloadRunner
{
    /// <summary>Every workload name.</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["seqread", "seqwrite", "randread", "randwrite", "randrw", "flush", "discard", "write-zeroes", "get-id", "hostile"];

    /// <summary>
    /// Runs <paramref name="options"/> on <paramref name="guest"/> (initialising it first if needed) and returns its
    /// counters. Every wait is bounded: a device that stops answering ends the run with a
    /// <see cref="GuestDriverException"/>, except in the hostile workload, which resets the device and carries on.
    /// </summary>
    /// <exception cref="ArgumentException">Bad options.</exception>
    /// <exception cref="GuestDriverException">The device refused a feature the workload needs, or stopped answering.</exception>
    public static WorkloadResult Run(VirtioBlkGuest guest, WorkloadOptions options)
    {
        ArgumentNullException.ThrowIfNull(guest);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (!guest.IsInitialized || guest.NeedsReset)
        {
            if (guest.IsInitialized)
            {
                guest.Reset();
            }
            guest.Initialize();
        }
        long notifications = guest.Notifications;
        long suppressed = guest.SuppressedNotifications;
        long interrupts = guest.Interrupts;
        var stopwatch = Stopwatch.StartNew();
        var engine = new WorkloadEngine(guest, options);
        WorkloadResult result = engine.Run();
        result.Elapsed = stopwatch.Elapsed;
        result.Notifications = guest.Notifications - notifications;
        result.SuppressedNotifications = guest.SuppressedNotifications - suppressed;
        result.Interrupts = guest.Interrupts - interrupts;
        return result;
    }

    internal static int IndexOf(string name)
    {
        for (int i = 0; i < Names.Count; i++)
        {
            if (Names[i] == name)
            {
                return i;
            }
        }
        return -1;
    }
}
