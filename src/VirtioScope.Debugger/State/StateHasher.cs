using System.Security.Cryptography;
using VirtioScope.Debugger.Execution;
using VirtioScope.Memory;

namespace VirtioScope.Debugger;

/// <summary>Hashes everything that makes up a machine's state, to prove that re-execution lands on the same bytes.</summary>
internal static class StateHasher
{
    public static string Hash(Machine m)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (GuestRegion region in m.Memory.Regions)
        {
            byte[] chunk = new byte[1 << 20];
            for (ulong offset = 0; offset < region.Size; offset += (ulong)chunk.Length)
            {
                int n = (int)Math.Min((ulong)chunk.Length, region.Size - offset);
                m.Memory.Read(region.GuestBase + offset, chunk.AsSpan(0, n));
                hash.AppendData(chunk.AsSpan(0, n));
            }
        }
        DeviceSnapshot s = SnapshotBuilder.Capture(m, null);
        var text = new System.Text.StringBuilder();
        text.Append(s.Position).Append('/').Append(s.Completions).Append('/').Append(s.Events).Append('\n');
        foreach (RegisterRow r in s.Registers.Concat(s.Config))
        {
            text.Append(r.Name).Append('=').Append(r.Value).Append('\n');
        }
        foreach (QueueSnapshot q in s.Queues)
        {
            text.Append(q.Index).Append(':').Append(q.LastSeenAvail).Append(',').Append(q.NextUsed).Append(',')
                .Append(q.AvailWrapCounter).Append(',').Append(q.UsedWrapCounter).Append('\n');
        }
        text.Append("overlay=").Append(m.Overlay?.ContentHash() ?? "none");
        hash.AppendData(System.Text.Encoding.UTF8.GetBytes(text.ToString()));
        if (m.Backend is VirtioScope.Block.MemoryBackend mem)
        {
            hash.AppendData(mem.Contents);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
