namespace VirtioScope.Guest;

/// <summary>Receives completions from <see cref="BlkQueue.ProcessCompletions"/>; implemented by a long-lived object so no per-request delegate is allocated.</summary>
public interface IBlkCompletionHandler
{
    /// <summary>
    /// Called once per finished request. <paramref name="data"/> is the request's data buffer in guest memory (what a
    /// read or GET_ID returned); it is valid only during the call, after which the slot is free again.
    /// </summary>
    void OnCompleted(in BlkCompletion completion, ReadOnlySpan<byte> data);
}
