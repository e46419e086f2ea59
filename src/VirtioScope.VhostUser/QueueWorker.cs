using VirtioScope.VhostUser.Native;

namespace VirtioScope.VhostUser;

/// <summary>
/// The thread that serves one started ring: it processes whatever is already waiting, then sleeps in poll() on the
/// kick eventfd and on its own stop eventfd, processing the ring after every kick. Stopping is synchronous: when
/// <see cref="Stop"/> returns no request of this ring is in flight.
/// </summary>
internal sealed unsafe class QueueWorker : IDisposable
{
    private readonly int _kickFd;
    private readonly int _stopFd;
    private readonly int _wakeFd;
    private readonly Action _process;
    private readonly Action<string> _fail;
    private readonly Thread _thread;

    /// <summary>Starts the worker; <paramref name="process"/> runs on its thread, <paramref name="fail"/> reports a dead kick fd.</summary>
    public QueueWorker(int index, int kickFd, Action process, Action<string> fail)
    {
        _kickFd = kickFd;
        _process = process;
        _fail = fail;
        _stopFd = Libc.EventFd(0, Libc.EfdCloexec | Libc.EfdNonblock);
        if (_stopFd < 0)
        {
            throw new IOException($"eventfd: {Libc.LastError()}");
        }
        _wakeFd = Libc.EventFd(0, Libc.EfdCloexec | Libc.EfdNonblock);
        if (_wakeFd < 0)
        {
            Libc.Close(_stopFd);
            throw new IOException($"eventfd: {Libc.LastError()}");
        }
        _thread = new Thread(Run) { IsBackground = true, Name = $"vhost-user queue {index}" };
        _thread.Start();
    }

    private void Run()
    {
        _process();
        Libc.PollFd* fds = stackalloc Libc.PollFd[3];
        while (true)
        {
            fds[0] = new Libc.PollFd { Fd = _kickFd, Events = Libc.PollIn };
            fds[1] = new Libc.PollFd { Fd = _stopFd, Events = Libc.PollIn };
            fds[2] = new Libc.PollFd { Fd = _wakeFd, Events = Libc.PollIn };
            if (Libc.Poll(fds, 3, -1) < 0)
            {
                if (System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == Libc.Eintr)
                {
                    continue;
                }
                _fail($"poll failed: {Libc.LastError()}");
                return;
            }
            if (fds[1].Revents != 0)
            {
                return;
            }
            if ((fds[0].Revents & (Libc.PollErr | Libc.PollHup | Libc.PollNval)) != 0)
            {
                _fail("the kick eventfd failed");
                return;
            }
            bool kicked = (fds[0].Revents & Libc.PollIn) != 0;
            bool woken = (fds[2].Revents & Libc.PollIn) != 0;
            if (kicked)
            {
                Libc.Drain(_kickFd);
            }
            if (woken)
            {
                Libc.Drain(_wakeFd);
            }
            if (kicked || woken)
            {
                _process();
            }
        }
    }

    /// <summary>Makes the thread look at the ring again, as a kick does (a debugger's gate opened on requests already waiting).</summary>
    public void Wake() => Libc.Signal(_wakeFd);

    /// <summary>Wakes the thread and waits until it has left the ring.</summary>
    public void Stop()
    {
        Libc.Signal(_stopFd);
        _thread.Join();
    }

    public void Dispose()
    {
        if (_thread.IsAlive)
        {
            Stop();
        }
        Libc.Close(_stopFd);
        Libc.Close(_wakeFd);
    }
}
