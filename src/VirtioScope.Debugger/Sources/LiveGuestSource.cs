using System.Numerics;
using VirtioScope.Block;
using VirtioScope.Guest;
using VirtioScope.Guest.Workloads;

namespace VirtioScope.Debugger.Sources;

/// <summary>
/// The spec-following guest of <c>run</c> driving the chosen workload. The workload runs in rounds of a few queue
/// depths, each with its own seed derived from the session seed. Requests composed in the debugger are interjected:
/// the guest submits them before any more of the workload's own requests (as soon as a slot is free).
/// </summary>
public sealed class LiveGuestSource : IGuestActionSource, IBlkCompletionHandler, IRequestInterjector
{
    /// <summary>Polls for the completion of a composed request before the guest gives up on it.</summary>
    public const int ComposedPollLimit = 1000;

    private readonly Queue<ComposedRequest> _waiting = new();
    private GuestActionContext? _context;
    private bool _composedDone;

    /// <inheritdoc />
    public string Description => "live guest";

    /// <inheritdoc />
    public DeviceSetup? Setup => null;

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
        _context = context;
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
                Interjector = this,
            });
            done += n;
            round++;
        }
        // Composed after the workload's last request was issued: nothing else is in flight now.
        foreach (ComposedRequest r in _waiting.Concat(context.TakeComposed()))
        {
            Submit(guest, r);
        }
        _waiting.Clear();
    }

    /// <inheritdoc />
    public int SubmitDue(VirtioBlkGuest guest, ulong tag, out bool waiting)
    {
        ArgumentNullException.ThrowIfNull(guest);
        foreach (ComposedRequest r in _context!.TakeComposed())
        {
            _waiting.Enqueue(r);
        }
        int submitted = 0;
        while (_waiting.TryPeek(out ComposedRequest? r))
        {
            if (r.Queue >= guest.Queues.Count)
            {
                _waiting.Dequeue();
                continue;
            }
            BlkQueue q = guest.Queues[r.Queue];
            int slot = q.TryReserve();
            if (slot < 0)
            {
                break;
            }
            _waiting.Dequeue();
            if (SubmitTo(q, slot, r, tag))
            {
                submitted++;
            }
        }
        waiting = _waiting.Count > 0;
        return submitted;
    }

    /// <inheritdoc />
    void IRequestInterjector.OnCompleted(in BlkCompletion completion, ReadOnlySpan<byte> data)
    {
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
        if (slot < 0 || !SubmitTo(q, slot, r, tag: 0))
        {
            return;
        }
        _composedDone = false;
        q.Kick();
        for (int i = 0; i < ComposedPollLimit && !_composedDone; i++)
        {
            q.ProcessCompletions(this);
        }
    }

    /// <summary>Puts a composed request in a reserved slot (released again if the queue refuses it).</summary>
    private static bool SubmitTo(BlkQueue q, int slot, ComposedRequest r, ulong tag)
    {
        int bytes = checked((int)r.Count * BlkLayout.SectorSize);
        bool submitted = r.Type switch
        {
            BlkRequestType.In => q.SubmitRead(slot, r.Sector, bytes, tag),
            BlkRequestType.Out => FillAndWrite(q, slot, r, bytes, tag),
            BlkRequestType.Flush => q.SubmitFlush(slot, tag),
            BlkRequestType.GetId => q.SubmitGetId(slot, tag),
            BlkRequestType.Discard => q.SubmitDiscard(slot, [new BlkSegment(r.Sector, r.Count)], tag),
            BlkRequestType.WriteZeroes => q.SubmitWriteZeroes(slot, [new BlkSegment(r.Sector, r.Count)], tag),
            _ => false,
        };
        if (!submitted)
        {
            q.Release(slot);
        }
        return submitted;
    }

    private static bool FillAndWrite(BlkQueue q, int slot, ComposedRequest r, int bytes, ulong tag)
    {
        q.GetBuffer(slot)[..bytes].Fill(r.Pattern);
        return q.SubmitWrite(slot, r.Sector, bytes, tag);
    }
}
