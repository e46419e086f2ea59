using System.Text;

namespace VirtioScope.Mount;

/// <summary>One file of the mount: a byte range of the disk (<c>disk</c>, <c>pN</c>) or fixed content (<c>info.json</c>).</summary>
internal sealed class MountedFile
{
    public MountedFile(string name, long diskOffset, long length, byte[]? content)
    {
        Name = name;
        NameBytes = Encoding.UTF8.GetBytes(name);
        NameWithNul = Encoding.UTF8.GetBytes(name + "\0");
        DiskOffset = diskOffset;
        Length = length;
        Content = content;
    }

    public string Name { get; }

    public byte[] NameBytes { get; }

    public byte[] NameWithNul { get; }

    public long DiskOffset { get; }

    public long Length { get; }

    /// <summary>Fixed content, or null for a view of the disk.</summary>
    public byte[]? Content { get; }
}
