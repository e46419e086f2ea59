namespace VirtioScope.Debugger.Sources;

/// <summary>
/// Whatever drives the device in a session: the live spec-following guest, or (later) a recorded trace. It runs on the
/// session's guest thread and touches the device only through <see cref="GuestActionContext.Mmio"/> and guest memory,
/// so the session can pause it before any register access and re-run it from the start to step back.
/// </summary>
public interface IGuestActionSource
{
    /// <summary>One line saying what drives the device, for the info command.</summary>
    string Description { get; }

    /// <summary>Runs to the end; must give the same register accesses every time it runs with the same context inputs.</summary>
    void Run(GuestActionContext context);
}
