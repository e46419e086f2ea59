namespace VirtioScope.Mount.Partitions;

/// <summary>One partition: its Linux number (the N of <c>pN</c>), and its byte range on the virtual disk.</summary>
/// <param name="Number">1 to 4 for MBR primaries, 5 and up for MBR logicals, the entry index plus one for GPT.</param>
/// <param name="Offset">First byte on the disk.</param>
/// <param name="Length">Length in bytes.</param>
/// <param name="Type">The MBR type byte as two hex digits, or the GPT type GUID.</param>
public sealed record Partition(int Number, long Offset, long Length, string Type);
