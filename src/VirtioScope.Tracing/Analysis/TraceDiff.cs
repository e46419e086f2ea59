using VirtioScope.Tracing.Format;
using VirtioScope.Tracing.Replay;

namespace VirtioScope.Tracing.Analysis;

/// <summary>Finds the first event where two traces differ, with the same report as <c>replay --verify</c>.</summary>
public static class TraceDiff
{
    /// <summary>The first divergence of <paramref name="b"/> from <paramref name="a"/>, or null when they say the same.</summary>
    public static Divergence? Compare(TraceReader a, TraceReader b, int contextEvents = 6)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var expected = new ExpectedStream(a);
        var actual = new ExpectedStream(b);
        long common = Math.Min(a.EventCount, b.EventCount);
        for (long n = 0; n < common; n++)
        {
            string? difference = EventComparer.Difference(expected[n], actual[n]);
            if (difference is not null)
            {
                return Report(expected, n, actual[n], difference, contextEvents);
            }
        }
        if (a.EventCount == b.EventCount)
        {
            return null;
        }
        return a.EventCount > b.EventCount
            ? Report(expected, common, null, "the second trace ends here", contextEvents)
            : Report(expected, common, actual[common], "the first trace ends here", contextEvents);
    }

    private static Divergence Report(ExpectedStream expected, long n, TraceEvent? actual, string reason, int context) => new()
    {
        EventNumber = n,
        Reason = reason,
        Expected = n < expected.Count ? expected[n] : null,
        Actual = actual,
        Request = expected.RequestBefore(n),
        Before = expected.Before(n, context),
    };
}
