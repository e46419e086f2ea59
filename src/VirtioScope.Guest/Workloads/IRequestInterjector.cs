namespace VirtioScope.Guest.Workloads;

/// <summary>
/// Requests put ahead of a workload's own: a debugger's hand-composed requests. The workload asks before every batch
/// it issues; while an interjected request waits for a free slot the workload issues nothing of its own, so the
/// interjected request is the next one the guest submits.
/// </summary>
public interface IRequestInterjector
{
    /// <summary>
    /// Submits the requests due now on <paramref name="guest"/>'s queues, each tagged <paramref name="tag"/> (the
    /// workload kicks afterwards). Returns how many were submitted; <paramref name="waiting"/> says whether some are
    /// still held back for want of a free slot.
    /// </summary>
    int SubmitDue(VirtioBlkGuest guest, ulong tag, out bool waiting);

    /// <summary>An interjected request completed (it is not counted in the workload's result).</summary>
    void OnCompleted(in BlkCompletion completion, ReadOnlySpan<byte> data);
}
