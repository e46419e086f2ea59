using System.Net.Sockets;
using Serilog;
using VirtioScope.VhostUser.Native;
using VirtioScope.VhostUser.Protocol;

namespace VirtioScope.VhostUser;

/// <summary>
/// Listens on a Unix socket and serves one vhost-user front-end at a time with a <see cref="VhostUserBlkBackend"/>.
/// When a front-end disconnects (or breaks the protocol) the back-end is reset and the next connection accepted,
/// unless the server runs once.
/// </summary>
public sealed class VhostUserServer : IDisposable
{
    private readonly string _path;
    private readonly VhostUserBlkBackend _backend;
    private readonly ILogger _logger;
    private readonly Socket _listener;
    private readonly Lock _lock = new();
    private Socket? _connection;
    private volatile bool _stopping;

    /// <summary>Binds the socket (replacing a stale socket file, never any other file) and starts listening.</summary>
    /// <exception cref="IOException">The path exists and is not a socket, or binding failed.</exception>
    public VhostUserServer(string socketPath, VhostUserBlkBackend backend, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(socketPath);
        _path = Path.GetFullPath(socketPath);
        _backend = backend;
        _logger = logger;
        if (File.Exists(_path) || Directory.Exists(_path))
        {
            if (!Libc.IsSocket(_path))
            {
                throw new IOException($"{socketPath} exists and is not a socket");
            }
            File.Delete(_path);
        }
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            _listener.Bind(new UnixDomainSocketEndPoint(_path));
            _listener.Listen(1);
        }
        catch (SocketException e)
        {
            _listener.Dispose();
            throw new IOException($"cannot listen on {socketPath}: {e.Message}", e);
        }
    }

    /// <summary>The socket path.</summary>
    public string SocketPath => _path;

    /// <summary>Connections served so far.</summary>
    public int Connections { get; private set; }

    /// <summary>Serves front-ends until <see cref="Stop"/> (or after the first one with <paramref name="once"/>).</summary>
    public void Run(bool once)
    {
        while (!_stopping)
        {
            Socket connection;
            try
            {
                connection = _listener.Accept();
            }
            catch (Exception e) when ((e is SocketException or ObjectDisposedException) && _stopping)
            {
                return;
            }
            lock (_lock)
            {
                _connection = connection;
            }
            Connections++;
            _logger.Information("Front-end connected on {Socket}", _path);
            try
            {
                Serve(connection);
            }
            finally
            {
                _backend.Disconnect();
                lock (_lock)
                {
                    _connection = null;
                }
                connection.Dispose();
                _logger.Information("Front-end disconnected; {Requests} requests served so far", _backend.Device.Statistics.Requests);
            }
            if (once)
            {
                return;
            }
        }
    }

    private void Serve(Socket connection)
    {
        var channel = new MessageChannel((int)connection.SafeHandle.DangerousGetHandle());
        var message = new ReceivedMessage();
        byte[] reply = new byte[VhostUserWire.HeaderSize + VhostUserWire.MaxPayload];
        try
        {
            while (true)
            {
                ReceiveOutcome outcome = channel.Receive(message, out string? error);
                if (outcome == ReceiveOutcome.Closed)
                {
                    return;
                }
                if (outcome == ReceiveOutcome.Broken)
                {
                    if (!_stopping)
                    {
                        _logger.Warning("Closing the connection: {Error}", error);
                    }
                    return;
                }
                MessageHeader header = message.Header;
                HandleResult result = _backend.Handle(message, reply.AsSpan(VhostUserWire.HeaderSize));
                message.CloseFds();
                if (result.Error is not null)
                {
                    _logger.Warning("{Request} failed: {Error}", header.Request, result.Error);
                }
                else
                {
                    _logger.Verbose("{Request} handled", header.Request);
                }
                int? length = _backend.ReplyFor(header, result, reply);
                if (length is null)
                {
                    _logger.Warning("Closing the connection after a failed {Request} that cannot be answered", header.Request);
                    return;
                }
                if (length > 0 && !channel.Send(reply.AsSpan(0, length.Value)))
                {
                    _logger.Warning("The front-end went away while being answered");
                    return;
                }
            }
        }
        finally
        {
            message.CloseFds();
        }
    }

    /// <summary>Stops accepting and ends the current connection; <see cref="Run"/> then returns.</summary>
    public void Stop()
    {
        _stopping = true;
        lock (_lock)
        {
            _connection?.Shutdown(SocketShutdown.Both);
        }
        _listener.Dispose();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stopping = true;
        _listener.Dispose();
        if (File.Exists(_path))
        {
            File.Delete(_path);
        }
    }
}
