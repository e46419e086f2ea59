using System.Globalization;
using VirtioScope.Block;
using VirtioScope.Debugger.Sources;
using VirtioScope.Virtio;

namespace VirtioScope.Debugger.Breakpoints;

/// <summary>Parses the words after <c>break</c>; a bad spec is a <see cref="CommandException"/> with one clear message.</summary>
public static class BreakpointParser
{
    /// <summary>Usage line for all breakpoint kinds.</summary>
    public const string Usage = "break mmio OFFSET [read|write|rw] [=VALUE] | break status | break type TYPE | break sector A-B | break error | break fault | break notify Q";

    /// <summary>Builds breakpoint <paramref name="id"/> from its words, e.g. <c>["mmio", "0x70", "write", "=3"]</c>.</summary>
    public static Breakpoint Parse(int id, IReadOnlyList<string> words)
    {
        ArgumentNullException.ThrowIfNull(words);
        if (words.Count == 0)
        {
            throw new CommandException($"break needs a kind: {Usage}");
        }
        string kind = words[0].ToLowerInvariant();
        switch (kind)
        {
            case "mmio":
                return ParseMmio(id, words);
            case "status" or "error" or "fault":
                ExpectCount(words, 1, $"break {kind}");
                return new Breakpoint
                {
                    Id = id,
                    Kind = kind switch { "status" => BreakpointKind.Status, "error" => BreakpointKind.Error, _ => BreakpointKind.Fault },
                };
            case "type":
                ExpectCount(words, 2, "break type TYPE");
                if (!ComposedRequest.TypeNames.TryGetValue(words[1], out BlkRequestType type))
                {
                    throw new CommandException($"unknown request type '{words[1]}' (one of: {string.Join(", ", ComposedRequest.TypeNames.Keys)})");
                }
                return new Breakpoint { Id = id, Kind = BreakpointKind.RequestType, RequestType = type };
            case "sector":
                ExpectCount(words, 2, "break sector A-B");
                return ParseSector(id, words[1]);
            case "notify":
                ExpectCount(words, 2, "break notify Q");
                int queue = (int)Numbers.Parse(words[1], "queue", max: 63);
                return new Breakpoint { Id = id, Kind = BreakpointKind.Notify, Queue = queue };
            default:
                throw new CommandException($"unknown breakpoint kind '{words[0]}': {Usage}");
        }
    }

    private static Breakpoint ParseMmio(int id, IReadOnlyList<string> words)
    {
        if (words.Count is < 2 or > 4)
        {
            throw new CommandException("usage: break mmio OFFSET [read|write|rw] [=VALUE]");
        }
        long offset = Numbers.Parse(words[1], "register offset", max: (long)MmioRegisters.DefaultSize - 1);
        if (offset < MmioRegisters.Config && offset % 4 != 0)
        {
            throw new CommandException($"register offset 0x{offset:x} is not 4-byte aligned (registers below 0x100 are 32-bit)");
        }
        MmioAccessKind access = MmioAccessKind.ReadWrite;
        uint? value = null;
        for (int i = 2; i < words.Count; i++)
        {
            string w = words[i].ToLowerInvariant();
            if (w.StartsWith('='))
            {
                value = (uint)Numbers.Parse(w[1..], "value", max: uint.MaxValue);
            }
            else
            {
                access = w switch
                {
                    "read" or "r" => MmioAccessKind.Read,
                    "write" or "w" => MmioAccessKind.Write,
                    "rw" => MmioAccessKind.ReadWrite,
                    _ => throw new CommandException($"'{words[i]}' is not read, write, rw or =VALUE"),
                };
            }
        }
        if (value is not null && access == MmioAccessKind.ReadWrite)
        {
            throw new CommandException("a value needs read or write: break mmio OFFSET read|write =VALUE");
        }
        return new Breakpoint { Id = id, Kind = BreakpointKind.Mmio, Offset = (int)offset, Access = access, Value = value };
    }

    private static Breakpoint ParseSector(int id, string range)
    {
        string[] parts = range.Split('-');
        if (parts.Length != 2)
        {
            throw new CommandException($"'{range}' is not a sector range A-B");
        }
        ulong a = (ulong)Numbers.Parse(parts[0], "first sector", max: long.MaxValue);
        ulong b = (ulong)Numbers.Parse(parts[1], "last sector", max: long.MaxValue);
        if (b < a)
        {
            throw new CommandException(string.Create(CultureInfo.InvariantCulture, $"sector range {a}-{b} ends before it starts"));
        }
        return new Breakpoint { Id = id, Kind = BreakpointKind.Sector, FirstSector = a, LastSector = b };
    }

    private static void ExpectCount(IReadOnlyList<string> words, int count, string usage)
    {
        if (words.Count != count)
        {
            throw new CommandException($"usage: {usage}");
        }
    }
}
