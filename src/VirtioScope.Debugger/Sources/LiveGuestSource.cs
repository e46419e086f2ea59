using System.Numerics;
using VirtioScope.Block;
using VirtioScope.Guest;
using VirtioScope.Guest.Workloads;

namespace VirtioScope.Debugger.Sources;

/// <summary>
/// The spec-following guest of <c>run</c> driving the chosen workload. The workload runs in rounds of a few queue
/// depths, each with its own seed derived from the session seed; between rounds every request has completed, which is
/// where requests composed in the debugger are submitted.
/// </summary>
public sealed class LiveGuestSource : IGuestActionSource, IBlkCompletionHandler
{
    /// <summary>Polls for the completion of a composed request before the guest gives up on it.</summary>
    public const int ComposedPollLimit = 1000;

    private bool _composedDone;

    /// <inheritdoc />
    public string Description => "live guest";

    /// <summary>Requests per round of the workload.</summary>
    public static long RoundSize(SessionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Math.Max(1024, (long)options.QueueDepth * options.Queues * 16);
    }

    /// <summary>The guest driver options the session's options imply (the same choices as <c>run</c>).</summary>
    public static GuestDriverOptions DriverOptions(SessionOptions s, ushort maxQueueSize)
    {
        ArgumentNullException.ThrowIfNull(s);
        return new GuestDriverOptions
        {
            QueueCount = s.Queues,
            QueueSize = Math.Max(maxQueueSize, (int)Math.Min(32768, BitOperations.RoundUpToPowerOf2((uint)s.QueueDepth))),
            QueueDepth = s.QueueDepth,
            UsePacked = s.Packed,
            UseEventIdx = s.EventIdx,
            UseIndirect = s.Indirect,
            MaxRequestBytes = Math.Max(s.BlockSize, 64 * 1024),
        };
    }

    /// <inheritdoc />
    public void Run(GuestActionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        SessionOptions s = context.Options;
        using var guest = new VirtioBlkGuest(context.Mmio, context.Memory, DriverOptions(s, new BlockDeviceOptions().MaxQueueSize));
        context.ConnectInterrupt(guest.OnInterrupt);
        guest.Initialize();
        long done = 0;
        long round = 0;
        long roundSize = RoundSize(s);
        while (done < s.Requests)
        {
            long n = Math.Min(roundSize, s.Requests - done);
            WorkloadRunner.Run(guest, new WorkloadOptions
            {
                Name = s.Workload,
                Requests = n,
                QueueDepth = s.QueueDepth,
                BlockSize = s.BlockSize,
                RwMixPercent = s.RwMixPercent,
                FlushEvery = s.FlushEvery,
                Seed = unchecked((s.Seed * 1_000_003UL) + (ulong)round),
                Verify = s.Verify,
                AssumeZeroedMedium = false,
            });
            done += n;
            round++;
            foreach (ComposedRequest r in context.TakeComposed())
            {
                Submit(guest, r);
            }
        }
    }

    /// <inheritdoc />
    public void OnCompleted(in BlkCompletion completion, ReadOnlySpan<byte> data) => _composedDone = true;

    private void Submit(VirtioBlkGuest guest, ComposedRequest r)
    {
        if (r.Queue >= guest.Queues.Count)
        {
            return;
        }
        BlkQueue q = guest.Queues[r.Queue];
        int slot = q.TryReserve();
        if (slot < 0)
        {
            return;
        }
        int bytes = checked((int)r.Count * BlkLayout.SectorSize);
        bool submitted = r.Type switch
        {
            BlkRequestType.In => q.SubmitRead(slot, r.Sector, bytes, tag: 0),
            BlkRequestType.Out => FillAndWrite(q, slot, r, bytes),
            BlkRequestType.Flush => q.SubmitFlush(slot, tag: 0),
            BlkRequestType.GetId => q.SubmitGetId(slot, tag: 0),
            BlkRequestType.Discard => q.SubmitDiscard(slot, [new BlkSegment(r.Sector, r.Count)], tag: 0),
            BlkRequestType.WriteZeroes => q.SubmitWriteZeroes(slot, [new BlkSegment(r.Sector, r.Count)], tag: 0),
            _ => false,
        };
        if (!submitted)
        {
            q.Release(slot);
            return;
        }
        _composedDone = false;
        q.Kick();
        for (int i = 0; i < ComposedPollLimit && !_composedDone; i++)
        {
            q.ProcessCompletions(this);
        }
    }

    private static bool FillAndWrite(BlkQueue q, int slot, ComposedRequest r, int bytes)
    {
        q.GetBuffer(slot)[..bytes].Fill(r.Pattern);
        return q.SubmitWrite(slot, r.Sector, bytes, tag: 0);
    }
}
