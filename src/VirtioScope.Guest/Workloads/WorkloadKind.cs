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
