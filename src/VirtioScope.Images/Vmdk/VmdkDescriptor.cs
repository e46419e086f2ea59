using System.Globalization;

namespace VirtioScope.Images.Vmdk;

/// <summary>One extent line of a descriptor: access, size in sectors, type, file name and (FLAT) sector offset.</summary>
internal readonly record struct VmdkExtentLine(string Access, long Sectors, string Type, string? FileName, long OffsetSectors);

/// <summary>
/// The text descriptor of a VMDK ("# Disk DescriptorFile"): createType, parentCID and the extent lines.
/// Sizes, counts and names are bounded; anything else is refused with the line at fault.
/// </summary>
internal sealed class VmdkDescriptor
{
    /// <summary>Largest descriptor accepted (QEMU refuses descriptor files above a few MiB; VMware's are a few KiB).</summary>
    public const int MaxBytes = 1 << 20;

    /// <summary>Most extents accepted (a 2 TB twoGbMaxExtent disk has about 1000).</summary>
    public const int MaxExtents = 4096;

    public string CreateType { get; private init; } = "";

    public string? ParentFileName { get; private init; }

    /// <summary>The content id (CID, hex), 0 when absent.</summary>
    public uint Cid { get; private init; }

    /// <summary>The parent's content id (parentCID, hex); 0xffffffff means no parent.</summary>
    public uint ParentCid { get; private init; } = uint.MaxValue;

    public IReadOnlyList<VmdkExtentLine> Extents { get; private init; } = [];

    public static VmdkDescriptor Parse(ReadOnlySpan<byte> bytes, string path)
    {
        int nul = bytes.IndexOf((byte)0);
        if (nul >= 0)
        {
            bytes = bytes[..nul];
        }
        string text = System.Text.Encoding.UTF8.GetString(bytes);
        string createType = "";
        string? parent = null;
        uint cid = 0;
        uint parentCid = uint.MaxValue;
        var extents = new List<VmdkExtentLine>();
        int lineNo = 0;
        foreach (string rawLine in text.Split('\n'))
        {
            lineNo++;
            string line = rawLine.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            if (line.StartsWith("createType", StringComparison.Ordinal))
            {
                createType = Value(line);
            }
            else if (line.StartsWith("CID", StringComparison.Ordinal) && uint.TryParse(Value(line), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint c))
            {
                cid = c;
            }
            else if (line.StartsWith("parentCID", StringComparison.Ordinal) && uint.TryParse(Value(line), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint pc))
            {
                parentCid = pc;
            }
            else if (line.StartsWith("parentFileNameHint", StringComparison.Ordinal))
            {
                parent = Value(line);
            }
            else if (line.StartsWith("RW ", StringComparison.Ordinal) || line.StartsWith("RDONLY ", StringComparison.Ordinal) || line.StartsWith("NOACCESS ", StringComparison.Ordinal))
            {
                if (extents.Count >= MaxExtents)
                {
                    throw new ImageException(ImageErrorKind.InvalidField, path, "extent", $"more than {MaxExtents} extents");
                }
                extents.Add(ParseExtent(line, path, lineNo));
            }
        }
        if (createType.Length == 0)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "createType", "descriptor has no createType");
        }
        return new VmdkDescriptor { CreateType = createType, ParentFileName = parent, Extents = extents, Cid = cid, ParentCid = parentCid };
    }

    /// <summary>The embedded descriptor of a new single-extent image, as qemu-img writes one, padded to whole sectors.</summary>
    public static byte[] Build(string createType, long sectors, string fileName, int descriptorSectors, string path)
    {
        long cylinders = Math.Min(sectors / (16 * 63), 16383);
        string text = string.Join('\n',
            "# Disk DescriptorFile",
            "version=1",
            $"CID={Random.Shared.Next():x8}",
            "parentCID=ffffffff",
            $"createType=\"{createType}\"",
            "",
            "# Extent description",
            $"RW {sectors} SPARSE \"{fileName}\"",
            "",
            "# The Disk Data Base",
            "#DDB",
            "",
            "ddb.virtualHWVersion = \"4\"",
            $"ddb.geometry.cylinders = \"{cylinders}\"",
            "ddb.geometry.heads = \"16\"",
            "ddb.geometry.sectors = \"63\"",
            "ddb.adapterType = \"ide\"",
            "");
        byte[] bytes = new byte[descriptorSectors * 512];
        if (System.Text.Encoding.UTF8.GetByteCount(text) >= bytes.Length)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, path, "file name", "too long for the embedded descriptor");
        }
        System.Text.Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }

    private static string Value(string line)
    {
        int eq = line.IndexOf('=', StringComparison.Ordinal);
        return eq < 0 ? "" : line[(eq + 1)..].Trim().Trim('"');
    }

    private static VmdkExtentLine ParseExtent(string line, string path, int lineNo)
    {
        string field = $"extent (line {lineNo})";
        int quote = line.IndexOf('"', StringComparison.Ordinal);
        string head = quote < 0 ? line : line[..quote];
        string[] parts = head.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 3 || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long sectors) || sectors < 0 || sectors > long.MaxValue / 512)
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, field, $"'{line}' is not 'ACCESS SECTORS TYPE \"FILE\" [OFFSET]'");
        }
        string type = parts[2];
        string? file = null;
        long offset = 0;
        if (quote >= 0)
        {
            int close = line.IndexOf('"', quote + 1);
            if (close < 0)
            {
                throw new ImageException(ImageErrorKind.InvalidField, path, field, "unterminated file name");
            }
            file = line[(quote + 1)..close];
            string rest = line[(close + 1)..].Trim();
            if (rest.Length > 0)
            {
                string first = rest.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
                if (!long.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out offset) || offset > long.MaxValue / 512)
                {
                    throw new ImageException(ImageErrorKind.InvalidField, path, field, $"offset '{first}' is not a sector number");
                }
            }
        }
        if (type != "ZERO" && string.IsNullOrEmpty(file))
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, field, $"a {type} extent needs a file name");
        }
        return new VmdkExtentLine(parts[0], sectors, type, file, offset);
    }
}
