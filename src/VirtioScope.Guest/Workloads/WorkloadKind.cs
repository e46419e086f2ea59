namespace VirtioScope.Guest.Workloads;

/// <summary>The workloads, in the order of <see cref="WorkloadRunner.Names"/>.</summary>
internal enum WorkloadKind
{
    SeqRead,
    SeqWrite,
    RandRead,
    RandWrite,
    RandRw,
    Flush,
    Discard,
    WriteZeroes,
    GetId,
    Hostile,
}

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
}
