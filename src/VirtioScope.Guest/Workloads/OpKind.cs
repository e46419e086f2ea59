namespace VirtioScope.Guest.Workloads;

/// <summary>What one request does; kept in the top byte of its tag.</summary>
internal enum OpKind : byte
{
    Read,
    Write,
    Flush,
    Discard,
    WriteZeroes,
    GetId,
    VerifyRead,
    Hostile,
    Interjected,
}
