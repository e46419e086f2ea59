namespace VirtioScope.Debugger;

/// <summary>Where a new session first pauses.</summary>
public enum PausePoint
{
    /// <summary>
    /// After the guest's bus discovery (its reads of MagicValue, Version, DeviceID...) and its first write, the reset
    /// (Status &lt;- 0): the next steps are the driver's initialization (status read back, ACKNOWLEDGE, DRIVER...).
    /// </summary>
    Discovery,

    /// <summary>Before the guest's first register access.</summary>
    FirstAccess,
}
