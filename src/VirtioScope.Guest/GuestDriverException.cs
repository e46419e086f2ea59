namespace VirtioScope.Guest;

/// <summary>The device refused or broke the driver's protocol: not a block device, features refused, a queue missing, a bad used element.</summary>
public sealed class GuestDriverException : Exception
{
    /// <summary>Creates the exception with a generic message.</summary>
    public GuestDriverException() : base("virtio-blk guest driver error") { }

    /// <summary>Creates the exception with a message.</summary>
    public GuestDriverException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public GuestDriverException(string message, Exception innerException) : base(message, innerException) { }
}
