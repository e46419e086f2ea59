using VirtioScope.VhostUser.Native;
using VirtioScope.VhostUser.Protocol;
using VirtioScope.Virtio.Queues;

namespace VirtioScope.VhostUser;

/// <summary>What the front-end told the back-end about one ring, and the live queue and worker once it is started.</summary>
internal sealed class Vring : IDisposable
{
    private readonly Lock _callLock = new();
    private int _callFd = -1;
    private int _errFd = -1;

    public Vring(int index) => Index = index;

    public int Index { get; }

    /// <summary>SET_VRING_NUM; 0 before it.</summary>
    public ushort Size { get; set; }

    /// <summary>SET_VRING_ADDR, front-end virtual addresses.</summary>
    public VringAddresses? Addresses { get; set; }

    /// <summary>SET_VRING_BASE, or where the ring stopped.</summary>
    public uint Base { get; set; }

    public int KickFd { get; private set; } = -1;

    public bool Enabled { get; set; }

    /// <summary>The queue while the ring is started.</summary>
    public VirtQueue? Queue { get; set; }

    public QueueWorker? Worker { get; set; }

    public bool Started => Worker is not null;

    /// <summary>Takes ownership of a new kick fd (-1 for none), closing the old one.</summary>
    public void SetKick(int fd)
    {
        CloseFd(KickFd);
        KickFd = fd;
    }

    /// <summary>Takes ownership of a new call fd; safe while the worker signals.</summary>
    public void SetCall(int fd)
    {
        lock (_callLock)
        {
            CloseFd(_callFd);
            _callFd = fd;
        }
    }

    /// <summary>Takes ownership of a new error fd.</summary>
    public void SetErr(int fd)
    {
        lock (_callLock)
        {
            CloseFd(_errFd);
            _errFd = fd;
        }
    }

    /// <summary>Raises the used-buffer notification (the guest's interrupt).</summary>
    public void Call()
    {
        lock (_callLock)
        {
            if (_callFd >= 0)
            {
                Libc.Signal(_callFd);
            }
        }
    }

    /// <summary>Tells the front-end the ring broke.</summary>
    public void SignalError()
    {
        lock (_callLock)
        {
            if (_errFd >= 0)
            {
                Libc.Signal(_errFd);
            }
        }
    }

    /// <summary>Stops the worker (if any) and drops the queue, keeping where it stood in <see cref="Base"/>.</summary>
    public void Stop(bool packed)
    {
        if (Worker is not null)
        {
            Worker.Dispose();
            Worker = null;
        }
        if (Queue is not null)
        {
            Base = VringBase.Encode(Queue.Position, packed);
            Queue = null;
        }
    }

    public void Dispose()
    {
        Worker?.Dispose();
        Worker = null;
        Queue = null;
        SetKick(-1);
        SetCall(-1);
        SetErr(-1);
    }

    private static void CloseFd(int fd)
    {
        if (fd >= 0)
        {
            Libc.Close(fd);
        }
    }
}
