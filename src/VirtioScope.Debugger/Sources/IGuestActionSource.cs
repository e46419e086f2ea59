namespace VirtioScope.Debugger.Sources;

/// <summary>
/// Whatever drives the device in a session: the live spec-following guest, or a recorded trace. It runs on the
/// session's guest thread and touches the device only through <see cref="GuestActionContext.Mmio"/> and guest memory,
/// so the session can pause it before any register access and re-run it from the start to step back. A fresh source
/// is made for every execution.
/// </summary>
public interface IGuestActionSource
{
    /// <summary>One line saying what drives the device, for the info command (may change as the source runs).</summary>
    string Description { get; }

    /// <summary>The device and sandbox to build instead of the ones the session's options imply, or null for those.</summary>
    DeviceSetup? Setup { get; }

    /// <summary>Runs to the end; must give the same register accesses every time it runs with the same context inputs.</summary>
    void Run(GuestActionContext context);
}
