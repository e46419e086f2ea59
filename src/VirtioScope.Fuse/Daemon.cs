using VirtioScope.Fuse.Native;

namespace VirtioScope.Fuse;

/// <summary>Process-level helpers for a mount daemon started by its own command line.</summary>
public static class Daemon
{
    private const int ReadWrite = 2;

    /// <summary>The user id of this process.</summary>
    public static uint UserId => Posix.GetUid();

    /// <summary>The group id of this process.</summary>
    public static uint GroupId => Posix.GetGid();

    /// <summary>Starts a new session so the daemon no longer belongs to the terminal of the command that started it.</summary>
    /// <returns>False when the process already leads a process group (and so keeps its session).</returns>
    public static bool DetachSession() => Posix.SetSid() >= 0;

    /// <summary>Points standard input, output and error at /dev/null (after readiness has been reported).</summary>
    /// <exception cref="IOException">/dev/null cannot be opened.</exception>
    public static void RedirectStandardStreamsToNull()
    {
        int fd = Posix.Open("/dev/null", ReadWrite);
        if (fd < 0)
        {
            throw new IOException("cannot open /dev/null");
        }
        for (int target = 0; target <= 2; target++)
        {
            if (Posix.Dup2(fd, target) < 0)
            {
                throw new IOException($"cannot redirect descriptor {target} to /dev/null");
            }
        }
        if (fd > 2)
        {
            _ = Posix.Close(fd);
        }
    }
}
