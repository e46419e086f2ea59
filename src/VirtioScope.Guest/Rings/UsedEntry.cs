namespace VirtioScope.Guest.Rings;

/// <summary>One reaped used element: the request token (slot) and the number of bytes the device says it wrote.</summary>
internal readonly record struct UsedEntry(int Token, uint Length);
