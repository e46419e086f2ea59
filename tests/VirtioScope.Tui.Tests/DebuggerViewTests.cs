using Terminal.Gui.Input;
using VirtioScope.Debugger;
using VirtioScope.Tui.Views;

namespace VirtioScope.Tui.Tests;

public class DebuggerViewTests
{
    [Fact]
    public void Starts_paused_with_every_pane_and_the_key_bindings()
    {
        using var h = new Headless();
        string screen = h.Screen;
        Assert.Contains("Registers", screen);
        Assert.Contains("Queue 0", screen);
        Assert.Contains("Chain / request", screen);
        Assert.Contains("Backend", screen);
        Assert.Contains("Events", screen);
        // The default start: after the guest's bus discovery reads and its reset write (access 4).
        Assert.Contains("paused before access 5", screen);
        Assert.Contains("bus discovery", screen);
        Assert.Contains("Status", screen);
        Assert.Contains("0 (reset)", screen);
        Assert.Contains("F11", screen);
        Assert.Contains("Step", screen);
        Assert.Contains("Quit", screen);
    }

    [Fact]
    public void F11_steps_one_access_and_the_changed_status_is_highlighted()
    {
        using var h = new Headless();
        h.Press(Key.F11);
        Assert.Contains("paused before access 6", h.Screen);
        Assert.Contains("read  Status (0x070) -> 0x0", h.Screen);
        Assert.Equal("0 (reset)", h.Session.Snapshot().Status);
        h.Press(Key.F11);
        Assert.Contains("ACKNOWLEDGE", h.Screen);
        PaneLine status = h.View.RegistersPane.Lines.Single(l => l.Text.StartsWith("Status ", StringComparison.Ordinal));
        Assert.True(status.Highlight);
        Assert.Contains("0x1", status.Text);
        Assert.DoesNotContain(h.View.RegistersPane.Lines, l => l.Highlight && l.Text.StartsWith("Magic", StringComparison.Ordinal));
        h.Press(Key.F11);
        Assert.Contains("ACKNOWLEDGE|DRIVER", h.Screen);
        Assert.Contains("write Status (0x070) <- 0x3", h.Screen);
    }

    [Fact]
    public void F10_shows_the_request_chain_hex_and_backend_location()
    {
        using var h = new Headless();
        h.Press(Key.F10);
        string chain = h.PaneText(h.View.ChainPane);
        Assert.Matches(@"queue 0 chain \d+: in sector \d+ bytes 4096 status OK", chain);
        Assert.Contains("desc 0: 0x", chain);
        Assert.Contains("WRITE", chain);
        Assert.Matches(@"00[0-9a-f]{8}  [0-9a-f]{32}", chain);
        string backend = h.PaneText(h.View.BackendPane);
        Assert.Contains("memory", backend);
        Assert.Matches(@"\d+\+8: memory", backend);
        Assert.Contains("1 completed", h.View.StatusText);
        Assert.Contains("completion queue 0", h.Screen);
    }

    [Fact]
    public void F5_then_F6_shows_the_queue_avail_idx_above_zero()
    {
        using var h = new Headless(Headless.Small() with { Requests = 50_000_000 });
        h.Press(Key.F5);
        Assert.True(h.View.IsContinuing);
        Assert.True(SpinWait.SpinUntil(() => h.Session.Completions > 1000, TimeSpan.FromSeconds(30)));
        h.View.Tick();
        h.Draw();
        Assert.Contains("running", h.View.StatusText);
        h.Press(Key.F6);
        Assert.True(SpinWait.SpinUntil(() => !h.View.IsContinuing, TimeSpan.FromSeconds(30)));
        h.View.Tick();
        h.Draw();
        Assert.Contains("paused", h.View.StatusText);
        QueueSnapshot q = h.Session.Snapshot().Queues[0];
        Assert.True(q.AvailIdx > 0);
        Assert.Contains($"avail idx {q.AvailIdx}", h.Screen);
    }

    [Fact]
    public void The_command_line_sets_breakpoints_and_reports_bad_commands()
    {
        using var h = new Headless();
        h.Press((Key)':');
        h.Type("break notify 0");
        h.Press(Key.Enter);
        Assert.Single(h.Session.Breakpoints);
        h.Press((Key)':');
        h.Type("frob");
        h.Press(Key.Enter);
        Assert.Contains("error: unknown command 'frob'", h.View.StatusText);
        h.Press(Key.F5);
        Assert.True(SpinWait.SpinUntil(() => !h.View.IsContinuing, TimeSpan.FromSeconds(30)));
        h.View.Tick();
        h.Draw();
        Assert.Contains("breakpoint 1: notify 0", h.View.StatusText);
        Assert.Contains("notify queue 0", h.Screen);
    }

    [Fact]
    public void F7_and_F8_step_back()
    {
        using var h = new Headless();
        h.Press(Key.F11, 8);
        h.Press(Key.F7);
        Assert.Equal(11, h.Session.Position);
        Assert.Contains("paused before access 12", h.Screen);
        h.Press(Key.F10, 3);
        Assert.Equal(3, h.Session.Completions);
        h.Press(Key.F8);
        Assert.Equal(2, h.Session.Completions);
        Assert.Contains("2 completed", h.View.StatusText);
    }

    [Fact]
    public void F1_shows_help_F9_lists_breakpoints_and_n_composes()
    {
        using var h = new Headless();
        h.Press(Key.F1);
        Assert.Contains("step [N]", h.Screen);
        Assert.Contains("Help", h.Screen);
        h.Press(Key.F9);
        Assert.Contains("break mmio OFF", h.Screen);
        h.Press(Key.Esc);
        h.Press(Key.N);
        h.Press(Key.Enter);
        Assert.Equal(1, h.Session.PendingComposed);
    }

    [Fact]
    public void The_event_log_filters_by_kind()
    {
        using var h = new Headless();
        h.Press(Key.F10, 2);
        h.Press((Key)':');
        h.Type("events 50 completion");
        h.Press(Key.Enter);
        Assert.Contains("Events: completion", h.Screen);
        Assert.All(h.View.EventsPane.Lines, l => Assert.Contains(" completion ", l.Text));
        Assert.Equal(2, h.View.EventsPane.Lines.Count);
    }

    [Fact]
    public void Packed_queues_show_the_descriptor_ring_with_wrap_counters()
    {
        using var h = new Headless(Headless.Small() with { Packed = true });
        h.Press(Key.F10, 3);
        string queue = h.PaneText(h.View.QueuePane);
        Assert.Contains("packed", queue);
        Assert.Contains("wrap counters: avail True  used True", queue);
        Assert.Contains("AVAIL", queue);
    }

    [Fact]
    public void A_recorded_trace_drives_the_same_panes_forward_and_back()
    {
        string path = Path.Combine(Path.GetTempPath(), $"vscope-tui-{Guid.NewGuid():N}.vstrace");
        try
        {
            var run = new VirtioScope.Tracing.Recording.RecordedRunOptions
            {
                Workload = new VirtioScope.Guest.Workloads.WorkloadOptions { Name = "randread", Requests = 50, QueueDepth = 4, Seed = 4 },
                Backend = new VirtioScope.Tracing.Format.BackendInfo { Kind = "memory", VirtualSize = 1 << 20 },
            };
            using (var backend = new VirtioScope.Block.MemoryBackend(1 << 20))
            using (FileStream file = File.Create(path))
            {
                VirtioScope.Tracing.Recording.RecordedRun.Run(backend, run, file);
            }
            using var reader = VirtioScope.Tracing.Format.TraceReader.Open(path);
            SessionOptions options = VirtioScope.Debugger.Sources.TraceGuestSource.OptionsFor(reader.Header, imagePath: null);
            using var h = new Headless(() => DebugSession.Open(options, () => new VirtioScope.Debugger.Sources.TraceGuestSource(reader, "t.vstrace")));
            // A recording starts paused after its bus discovery and reset too.
            Assert.Matches(@"trace t\.vstrace: event [1-9]\d* of", h.View.StatusText);
            Assert.Contains("bus discovery", h.View.StatusText);
            h.Press(Key.F10);
            Assert.Matches(@"queue 0 chain \d+: in sector \d+ bytes 4096 status OK", h.PaneText(h.View.ChainPane));
            Assert.Contains("1 completed", h.View.StatusText);
            Assert.Contains("identical to the recording so far", h.View.StatusText);
            string registers = h.PaneText(h.View.RegistersPane);
            h.Press(Key.F10, 3);
            Assert.Contains("4 completed", h.View.StatusText);
            h.Press(Key.F8, 3);
            Assert.Contains("1 completed", h.View.StatusText);
            Assert.Equal(registers, h.PaneText(h.View.RegistersPane));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void F9_keeps_the_break_prefix_while_the_spec_is_typed()
    {
        using var h = new Headless();
        h.Press(Key.F9);
        h.Type("type out");
        h.Press(Key.Enter);
        Assert.Equal("type out", Assert.Single(h.Session.Breakpoints).Spec);
    }
}
