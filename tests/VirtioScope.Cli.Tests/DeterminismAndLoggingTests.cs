using System.Text.Json;
using VirtioScope.Block;
using VirtioScope.Guest;
using VirtioScope.Guest.Workloads;
using VirtioScope.Memory;
using VirtioScope.Virtio.Events;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Cli.Tests;

[Collection("console")]
public class DeterminismAndLoggingTests
{
    private static List<string> EventStream(string workload, ulong seed, bool packed)
    {
        using var backend = new MemoryBackend(4 << 20);
        using GuestMemory memory = GuestMemory.Create();
        var device = new BlockDevice(backend);
        var transport = new MmioTransport(device, memory.CreateView());
        var events = new List<string>();
        using IDisposable sub = transport.Events.Subscribe(e => events.Add(e.ToString()));
        using var guest = new VirtioBlkGuest(transport, memory, new GuestDriverOptions { UsePacked = packed, QueueDepth = 16 });
        transport.InterruptRaised = guest.OnInterrupt;
        guest.Events = transport.Events;
        guest.Initialize();
        WorkloadRunner.Run(guest, new WorkloadOptions { Name = workload, Requests = 300, Seed = seed, QueueDepth = 16, Verify = true });
        return events;
    }

    [Theory]
    [InlineData("randrw", false)]
    [InlineData("hostile", true)]
    public void Same_seed_and_options_give_the_same_event_sequence(string workload, bool packed)
    {
        List<string> a = EventStream(workload, 42, packed);
        List<string> b = EventStream(workload, 42, packed);
        Assert.True(a.Count > 1000);
        Assert.Contains(a, e => e.StartsWith("GuestSubmitEvent", StringComparison.Ordinal));
        Assert.Contains(a, e => e.StartsWith("GuestKickEvent", StringComparison.Ordinal));
        Assert.Equal(a, b);
        Assert.NotEqual(a, EventStream(workload, 43, packed));
    }

    [Fact]
    public void Log_file_is_compact_json_with_device_faults()
    {
        string log = Path.Combine(Path.GetTempPath(), $"vscope-{Guid.NewGuid():n}.clef");
        try
        {
            (int exit, _, string stderr) = CliRunner.Run("run", "--memory", "4M", "--workload", "hostile", "--requests", "500", "--log", log);
            Assert.True(exit == 0, stderr);
            string[] lines = File.ReadAllLines(log);
            Assert.NotEmpty(lines);
            foreach (string line in lines)
            {
                using JsonDocument d = JsonDocument.Parse(line);
                Assert.True(d.RootElement.TryGetProperty("@t", out _));
            }
            Assert.Contains(lines, l => l.Contains("device fault", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(log);
        }
    }
}
