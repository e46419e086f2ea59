using VirtioScope.VhostUser.Native;

namespace VirtioScope.VhostUser.Tests;

/// <summary>An eventfd for kicks and calls, as the front-end holds them.</summary>
internal sealed unsafe class EventFd : IDisposable
{
    public EventFd() => Fd = Libc.EventFd(0, Libc.EfdCloexec | Libc.EfdNonblock);

    public int Fd { get; }

    public void Signal() => Assert.True(Libc.Signal(Fd));

    /// <summary>Waits (a liveness bound, not a timing check) until the counter is non-zero, then clears it.</summary>
    public bool Wait(int timeoutMs = 20_000)
    {
        var p = new Libc.PollFd { Fd = Fd, Events = Libc.PollIn };
        if (Libc.Poll(&p, 1, timeoutMs) <= 0)
        {
            return false;
        }
        return Libc.Drain(Fd) > 0;
    }

    public void Dispose() => Libc.Close(Fd);
}
