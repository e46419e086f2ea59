namespace VirtioScope.Debugger.Execution;

/// <summary>Thrown on the guest thread at its next register access when the machine is torn down; ends the guest.</summary>
internal sealed class SessionAbortedException : Exception
{
    public SessionAbortedException()
        : base("the debug session ended this execution")
    {
    }

    public SessionAbortedException(string message)
        : base(message)
    {
    }

    public SessionAbortedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
