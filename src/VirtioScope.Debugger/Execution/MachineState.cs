namespace VirtioScope.Debugger;

/// <summary>Where a session's guest is.</summary>
public enum MachineState
{
    /// <summary>Stopped before a register access.</summary>
    Paused,

    /// <summary>Running at full speed.</summary>
    Running,

    /// <summary>The source ran to its end.</summary>
    Finished,

    /// <summary>The source stopped with an error (see the stop reason).</summary>
    Failed,
}
