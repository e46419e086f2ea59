using Terminal.Gui.Input;
using VirtioScope.Block;
using VirtioScope.Debugger;
using VirtioScope.VhostDebug;

namespace VirtioScope.Tui.Tests;

/// <summary>The vhost-user debugger window driven by keys over a live back-end and the test front-end's real ring.</summary>
public sealed class VhostDebuggerViewTests
{
    private static readonly string Write = RequestNames.Of(BlkRequestType.Out);
    private static readonly string Read = RequestNames.Of(BlkRequestType.In);

    [Fact]
    public void Starts_paused_with_every_pane_and_the_key_bindings()
    {
        using var h = new VhostHeadless();
        string screen = h.Screen;
        foreach (string title in (string[])["vhost-user", "Queue 0", "Request", "Events"])
        {
            Assert.Contains(title, screen);
        }
        Assert.StartsWith("paused: started paused", h.View.StatusText);
        Assert.Contains("0 taken, 0 completed", h.View.StatusText);
        Assert.Contains("1 ring(s) started", h.View.StatusText);
        Assert.Contains(h.Rig.Server.SocketPath, h.View.StatusText);
        string vhost = VhostHeadless.Text(h.View.VhostPane);
        Assert.Contains("VERSION_1", vhost);
        Assert.Contains("REPLY_ACK", vhost);
        Assert.Contains("region guest 0x", vhost);
        Assert.Contains("ring 0: size 16", vhost);
        // The ring's whole line fits on a 160-column screen.
        Assert.Contains("started, base 0, last avail 0, used idx 0", screen);
        Assert.Contains("enabled", vhost);
        Assert.Contains("queue 0: split, size 16", VhostHeadless.Text(h.View.QueuePane));
        Assert.Contains("no request has been taken yet", VhostHeadless.Text(h.View.RequestPane));
        // The panes are batch mode's text.
        Assert.Equal(VhostTextFormatter.Format(h.Interpreter.Execute("vhost")).TrimEnd('\n'), vhost);
        foreach (string key in (string[])["F11", "Step", "F5", "F6", "F9", "Quit"])
        {
            Assert.Contains(key, screen);
        }
    }

    [Fact]
    public void Requests_wait_while_paused()
    {
        using var h = new VhostHeadless();
        h.Rig.Submit((BlkRequestType.Out, 8), (BlkRequestType.In, 16));
        h.Rig.WaitHeld(0);
        Assert.True(h.TickUntil(() => VhostHeadless.Text(h.View.QueuePane).Contains("waiting 2", StringComparison.Ordinal)), VhostHeadless.Text(h.View.QueuePane));
        Assert.Equal(0xff, h.Rig.Status(0));
        Assert.Equal(0xff, h.Rig.Status(1));
        Assert.Contains("0 taken, 0 completed", h.View.StatusText);
    }

    [Fact]
    public void F11_takes_exactly_one_request_and_shows_it()
    {
        using var h = new VhostHeadless();
        h.Rig.Submit((BlkRequestType.Out, 8), (BlkRequestType.In, 16));
        h.Rig.WaitHeld(0);
        h.Press(Key.F11);
        Assert.True(h.TickUntil(() => !h.View.IsBusy));
        Assert.Equal(1L, h.Controller.Taken);
        Assert.Equal(1L, h.Controller.Completions);
        Assert.Equal(0, h.Rig.Status(0));
        Assert.Equal(0xff, h.Rig.Status(1));
        string request = VhostHeadless.Text(h.View.RequestPane);
        Assert.Contains($"queue 0 chain 0: {Write} sector 8 bytes 512", request);
        Assert.Contains("desc 0: addr 0x", request);
        Assert.Contains("1 taken, 1 completed", h.View.StatusText);
        Assert.StartsWith("paused", h.View.StatusText);
        Assert.Contains("waiting 1", VhostHeadless.Text(h.View.QueuePane));

        h.Press(Key.F10);
        Assert.True(h.TickUntil(() => !h.View.IsBusy));
        Assert.Equal(2L, h.Controller.Completions);
        Assert.Contains($"{Read} sector 16", VhostHeadless.Text(h.View.RequestPane));
    }

    [Fact]
    public void F5_lets_the_requests_through_and_F6_pauses()
    {
        using var h = new VhostHeadless();
        h.Rig.Submit((BlkRequestType.Out, 1), (BlkRequestType.Out, 2), (BlkRequestType.In, 3));
        h.Rig.WaitHeld(0);
        h.Press(Key.F5);
        Assert.True(h.TickUntil(() => h.Controller.Completions == 3));
        Assert.StartsWith("running", h.View.StatusText);
        Assert.Contains("3 completed", h.View.StatusText);
        Assert.All(Enumerable.Range(0, 3), i => Assert.Equal(0, h.Rig.Status(i)));

        h.Press(Key.F6);
        Assert.True(h.TickUntil(() => !h.View.IsBusy));
        Assert.Equal(VhostRunState.Paused, h.Controller.State);
        Assert.StartsWith("paused", h.View.StatusText);
        long held = h.Controller.Held;
        h.Rig.Submit((BlkRequestType.In, 4));
        h.Rig.WaitHeld(held);
        Assert.Equal(0xff, h.Rig.Status(3));
        Assert.Equal(3L, h.Controller.Completions);
    }

    [Fact]
    public void F6_interrupts_a_step_waiting_for_the_guest()
    {
        using var h = new VhostHeadless();
        h.Press(Key.F11);
        Assert.True(h.View.IsBusy);
        Assert.Contains("step: F6 pauses", h.View.StatusText);
        h.Press(Key.F6);
        Assert.True(h.TickUntil(() => !h.View.IsBusy));
        Assert.Equal(VhostRunState.Paused, h.Controller.State);
        Assert.Equal(0L, h.Controller.Taken);
    }

    [Fact]
    public void A_breakpoint_set_on_the_command_line_stops_on_the_matching_request()
    {
        using var h = new VhostHeadless();
        h.Press(Key.F9);
        Assert.Contains("Breakpoints", h.Screen);
        h.Type("sector=40-47");
        h.Press(Key.Enter);
        Assert.True(h.Controller.Breakpoints.Count == 1, h.View.StatusText + "\n" + h.Screen);
        h.Press((Key)':');
        h.Type("frob");
        h.Press(Key.Enter);
        Assert.Contains("error: unknown command 'frob'", h.View.StatusText);

        h.Rig.Submit((BlkRequestType.Out, 8), (BlkRequestType.Out, 40), (BlkRequestType.In, 100));
        h.Press(Key.F5);
        Assert.True(h.TickUntil(() => !h.View.IsBusy));
        Assert.Equal(VhostRunState.Paused, h.Controller.State);
        Assert.Contains("breakpoint 1", h.View.StatusText);
        Assert.Contains($"{Write} sector 40", VhostHeadless.Text(h.View.RequestPane));
        Assert.Equal(0, h.Rig.Status(1));
        Assert.Equal(0xff, h.Rig.Status(2));
        Assert.Equal(2L, h.Controller.Completions);
    }

    [Fact]
    public void Q_ends_a_waiting_command_and_quits()
    {
        using var h = new VhostHeadless();
        h.Press(Key.F11);
        Assert.True(h.View.IsBusy);
        h.Press(Key.Q);
        Assert.True(h.View.QuitRequested);
        Assert.False(h.View.IsBusy);
        Assert.Equal(VhostRunState.Paused, h.Controller.State);
        Assert.Equal(0L, h.Controller.Taken);
    }
}
