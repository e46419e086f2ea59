using System.Buffers.Binary;
using System.Text;
using static VirtioScope.Images.Vhdx.VhdxLayout;

namespace VirtioScope.Images.Vhdx;

/// <summary>
/// The parent locator metadata item of a differencing VHDX ([MS-VHDX] 2.6.2.6): a locator type GUID and UTF-16LE
/// key/value pairs (parent_linkage, parent_linkage2, relative_path, volume_path, absolute_win32_path).
/// </summary>
internal sealed class VhdxParentLocator
{
    private const int HeaderSize = 20;
    private const int EntrySize = 12;

    /// <summary>The locator type of a VHDX parent.</summary>
    public static readonly Guid VhdxLocatorType = new("B04AEFB7-D19E-4A81-B789-25B8E9445913");

    public VhdxParentLocator(IReadOnlyDictionary<string, string> entries) => Entries = entries;

    public IReadOnlyDictionary<string, string> Entries { get; }

    /// <summary>The parent's data write GUID this child was made against.</summary>
    public Guid ParentLinkage(string path)
    {
        if (!Entries.TryGetValue("parent_linkage", out string? s) || !Guid.TryParse(s, out Guid g))
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "parent locator", "parent_linkage is missing or not a GUID");
        }
        return g;
    }

    /// <summary>The alternative linkage (parent_linkage2), if present.</summary>
    public Guid? ParentLinkage2 => Entries.TryGetValue("parent_linkage2", out string? s) && Guid.TryParse(s, out Guid g) ? g : null;

    /// <summary>Parses the item, checking every offset and length against it.</summary>
    public static VhdxParentLocator Parse(ReadOnlySpan<byte> item, string path)
    {
        if (item.Length < HeaderSize)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "parent locator", $"item of {item.Length} bytes is shorter than its header");
        }
        Guid type = ReadGuid(item);
        if (type != VhdxLocatorType)
        {
            throw new ImageException(ImageErrorKind.UnsupportedFeature, path, "parent locator type", $"{type} is not the VHDX locator type");
        }
        int count = BinaryPrimitives.ReadUInt16LittleEndian(item[18..]);
        if (HeaderSize + count * EntrySize > item.Length)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "parent locator key/value count", $"{count} entries do not fit the {item.Length}-byte item");
        }
        var entries = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> e = item.Slice(HeaderSize + i * EntrySize, EntrySize);
            string key = Text(item, BinaryPrimitives.ReadUInt32LittleEndian(e), BinaryPrimitives.ReadUInt16LittleEndian(e[8..]), i, path);
            string value = Text(item, BinaryPrimitives.ReadUInt32LittleEndian(e[4..]), BinaryPrimitives.ReadUInt16LittleEndian(e[10..]), i, path);
            if (!entries.TryAdd(key, value))
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, $"parent locator entry {i}", $"key '{key}' appears twice");
            }
        }
        return new VhdxParentLocator(entries);
    }

    private static string Text(ReadOnlySpan<byte> item, uint offset, int length, int index, string path)
    {
        if (length == 0 || length % 2 != 0 || offset < HeaderSize || offset > item.Length - (long)length)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, $"parent locator entry {index}", $"{length} bytes at {offset} lie outside the {item.Length}-byte item");
        }
        return Encoding.Unicode.GetString(item.Slice((int)offset, length));
    }

    /// <summary>Serialises a locator with the given entries (keys in order).</summary>
    public static byte[] Build(IReadOnlyList<KeyValuePair<string, string>> entries)
    {
        int size = HeaderSize + entries.Count * EntrySize;
        foreach (var kv in entries)
        {
            size += Encoding.Unicode.GetByteCount(kv.Key) + Encoding.Unicode.GetByteCount(kv.Value);
        }
        byte[] item = new byte[size];
        VhdxLocatorType.TryWriteBytes(item);
        BinaryPrimitives.WriteUInt16LittleEndian(item.AsSpan(18), (ushort)entries.Count);
        int at = HeaderSize + entries.Count * EntrySize;
        for (int i = 0; i < entries.Count; i++)
        {
            Span<byte> e = item.AsSpan(HeaderSize + i * EntrySize, EntrySize);
            int keyLength = Encoding.Unicode.GetBytes(entries[i].Key, item.AsSpan(at));
            BinaryPrimitives.WriteUInt32LittleEndian(e, (uint)at);
            BinaryPrimitives.WriteUInt16LittleEndian(e[8..], (ushort)keyLength);
            at += keyLength;
            int valueLength = Encoding.Unicode.GetBytes(entries[i].Value, item.AsSpan(at));
            BinaryPrimitives.WriteUInt32LittleEndian(e[4..], (uint)at);
            BinaryPrimitives.WriteUInt16LittleEndian(e[10..], (ushort)valueLength);
            at += valueLength;
        }
        return item;
    }

    /// <summary>
    /// The candidate parent paths in the spec's search order: relative_path (against the child's directory), then
    /// volume_path and absolute_win32_path. Windows drive and volume prefixes mean nothing on this host, so for those
    /// the name is also tried beside the child, as other non-Windows readers do.
    /// </summary>
    public IEnumerable<string> Candidates(string childPath)
    {
        foreach (string key in new[] { "relative_path", "volume_path", "absolute_win32_path" })
        {
            if (!Entries.TryGetValue(key, out string? value) || value.Length == 0 || value.Contains('\0', StringComparison.Ordinal))
            {
                continue;
            }
            string name = value.Replace('\\', '/');
            if (key == "relative_path")
            {
                yield return BackingPath.Resolve(childPath, name.StartsWith("./", StringComparison.Ordinal) ? name[2..] : name);
                continue;
            }
            if (name.StartsWith('/') && !name.StartsWith("//", StringComparison.Ordinal))
            {
                yield return name;
            }
            yield return BackingPath.Resolve(childPath, Path.GetFileName(name));
        }
    }
}
