namespace VirtioScope.Debugger;

/// <summary>A command the session cannot carry out: bad syntax, a bad value, or a state that does not allow it. The session goes on.</summary>
public sealed class CommandException : Exception
{
    /// <summary>Creates the exception with the message the user sees.</summary>
    public CommandException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with no message.</summary>
    public CommandException()
    {
    }

    /// <summary>Creates the exception wrapping a cause.</summary>
    public CommandException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
