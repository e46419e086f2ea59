namespace VirtioScope.Fuse;

/// <summary>FUSE is not available, or libfuse refused to set up or mount the file system.</summary>
public sealed class FuseException : Exception
{
    /// <summary>Creates the exception.</summary>
    public FuseException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public FuseException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>Creates the exception without a message.</summary>
    public FuseException()
    {
    }
}
