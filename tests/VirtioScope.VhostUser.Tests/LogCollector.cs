using System.Collections.Concurrent;
using Serilog;
using Serilog.Events;

namespace VirtioScope.VhostUser.Tests;

/// <summary>A Serilog logger that keeps the server's messages for assertions and failure messages.</summary>
internal sealed class LogCollector : ILogger
{
    private readonly ConcurrentQueue<string> _lines = new();

    public void Write(LogEvent logEvent)
    {
        ArgumentNullException.ThrowIfNull(logEvent);
        _lines.Enqueue($"{logEvent.Level}: {logEvent.RenderMessage()}{(logEvent.Exception is null ? "" : " " + logEvent.Exception)}");
    }

    public IReadOnlyCollection<string> Lines => _lines;

    public override string ToString() => string.Join('\n', _lines);
}
