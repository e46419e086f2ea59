namespace VirtioScope.Mount;

/// <summary>How writes to the mounted disk are handled.</summary>
public enum MountMode
{
    /// <summary>Writes are refused (EROFS).</summary>
    ReadOnly,

    /// <summary>Writes go through the image library to the image.</summary>
    ReadWrite,

    /// <summary>Writes go to a temporary qcow2 overlay over the image, deleted at unmount.</summary>
    Snapshot,
}
