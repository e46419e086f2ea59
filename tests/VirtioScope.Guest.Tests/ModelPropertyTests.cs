using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VirtioScope.Block;
using VirtioScope.Virtio.Transport;

namespace VirtioScope.Guest.Tests;

public sealed class ModelPropertyTests
{
    private const int DiskBytes = 256 << 10;

    private sealed class ModelChecker : IBlkCompletionHandler
    {
        public int Completed { get; private set; }
        public List<string> Problems { get; } = [];
        public Dictionary<ulong, byte[]> ExpectedReads { get; } = [];

        public void OnCompleted(in BlkCompletion c, ReadOnlySpan<byte> data)
        {
            Completed++;
            if (!c.IsOk)
            {
                Problems.Add($"request {c.Tag} ended {c.Status}");
                return;
            }
            uint expectedUsed = c.Type == BlkRequestType.In ? (uint)c.DataLength + 1 : 1;
            if (c.UsedLength != expectedUsed)
            {
                Problems.Add($"request {c.Tag}: used length {c.UsedLength}, expected {expectedUsed}");
            }
            if (c.Type == BlkRequestType.In && !data.SequenceEqual(ExpectedReads[c.Tag]))
            {
                Problems.Add($"request {c.Tag}: read data differs from the model");
            }
        }
    }

    /// <summary>
    /// Random batches of reads and writes of random sizes, segmentations and ring formats: every request completes
    /// exactly once, OK, with the spec's used length, and reads return what the model says. Requests in one batch
    /// never overlap, so the model does not depend on the device's completion order.
    /// </summary>
    [Property(MaxTest = 60)]
    public Property RequestsMatchAByteModel(bool packed, bool legacy, bool indirect, bool eventIdx, PositiveInt segSeed, NonEmptyArray<(bool Write, byte Sector, byte Sectors, byte Fill)> ops)
    {
        if (legacy)
        {
            packed = false;
        }
        int segment = 512 * (1 + (segSeed.Get % 8));
        using var rig = new GuestRig(
            new GuestDriverOptions { UsePacked = packed, UseIndirect = indirect, UseEventIdx = eventIdx, QueueSize = 64, QueueDepth = 8, SegmentBytes = segment, MaxRequestBytes = 32 << 10 },
            version: legacy ? MmioVersion.Legacy : MmioVersion.Modern, diskBytes: DiskBytes);
        rig.Guest.Initialize();
        BlkQueue q = rig.Guest.Queues[0];
        byte[] model = new byte[DiskBytes];
        var checker = new ModelChecker();
        ulong tag = 0;
        int submitted = 0;
        var busy = new bool[DiskBytes / 512];
        foreach ((bool write, byte s, byte n, byte fill) in ops.Get)
        {
            // At most 62 data segments: with the header and status the chain still fits the 64-entry ring without indirect.
            int sectors = 1 + (n % 62);
            ulong sector = (ulong)(s * 2) % (ulong)(busy.Length - sectors);
            if (q.FreeSlots == 0 || Array.IndexOf(busy, true, (int)sector, sectors) >= 0)
            {
                q.Kick();
                q.ProcessCompletions(checker);
                Array.Clear(busy);
            }
            int slot = q.TryReserve();
            int length = sectors * 512;
            if (write)
            {
                q.GetBuffer(slot)[..length].Fill(fill);
                model.AsSpan((int)sector * 512, length).Fill(fill);
                Assert.True(q.SubmitWrite(slot, sector, length, tag) || Retry(q, checker, busy, () => q.SubmitWrite(slot, sector, length, tag)));
            }
            else
            {
                checker.ExpectedReads[tag] = model.AsSpan((int)sector * 512, length).ToArray();
                Assert.True(q.SubmitRead(slot, sector, length, tag) || Retry(q, checker, busy, () => q.SubmitRead(slot, sector, length, tag)));
            }
            busy.AsSpan((int)sector, sectors).Fill(true);
            tag++;
            submitted++;
        }
        q.Kick();
        q.ProcessCompletions(checker);
        bool ok = checker.Completed == submitted && checker.Problems.Count == 0 && rig.Backend.Contents.SequenceEqual(model) && q.FreeSlots == q.Depth;
        return ok.Label($"completed {checker.Completed}/{submitted}; {string.Join("; ", checker.Problems.Take(3))}");
    }

    private static bool Retry(BlkQueue q, ModelChecker checker, bool[] busy, Func<bool> submit)
    {
        // Out of ring descriptors: let the device drain the ring, then try once more.
        q.Kick();
        q.ProcessCompletions(checker);
        Array.Clear(busy);
        return submit();
    }
}
