using VirtioScope.Block;
using VirtioScope.Tracing.Format;

namespace VirtioScope.Tracing.Replay;

/// <summary>
/// Re-executes a recording against a fresh device: it rebuilds the sandbox from the header, drives the recorded
/// register accesses in order, and supplies the guest memory the device reads from the recording. Everything the
/// new device produces goes through the same recorder and backend wrapper as when recording, into a verifier that
/// compares it event by event with the recording. See <see cref="ReplaySession"/> to step and inspect.
/// </summary>
public static class TraceReplayer
{
    /// <summary>Replays <paramref name="reader"/>'s trace against <paramref name="backend"/> (which the caller owns).</summary>
    /// <exception cref="InvalidOperationException">The trace is register-level (imported) and holds no guest memory.</exception>
    /// <exception cref="InvalidDataException">The header does not describe a device that can be built.</exception>
    public static ReplayResult Replay(TraceReader reader, IBlockBackend backend, ReplayOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(reader);
        options ??= new ReplayOptions();
        using var session = new ReplaySession(reader, backend, options);
        session.RunTo(options.Until ?? reader.EventCount - 1);
        return session.Result();
    }
}
