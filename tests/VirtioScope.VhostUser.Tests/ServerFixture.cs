using VirtioScope.Block;

namespace VirtioScope.VhostUser.Tests;

/// <summary>A VhostUserServer over a memory disk, serving on a temporary socket from a background thread.</summary>
internal sealed class ServerFixture : IDisposable
{
    private readonly string _dir;
    private readonly Thread _thread;
    private Exception? _failure;

    public ServerFixture(int queues = 1, ulong? features = null, long diskBytes = 1 << 20, bool readOnly = false, Func<IBlockBackend, IBlockBackend>? wrap = null)
    {
        _dir = Path.Combine(Path.GetTempPath(), "vs-vhost-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(_dir);
        SocketPath = Path.Combine(_dir, "vu.sock");
        Disk = new MemoryBackend(diskBytes, readOnly);
        var options = new BlockDeviceOptions { NumQueues = queues, Features = features ?? BlockDeviceOptions.SupportedFeatures & ~BlkFeatures.ReadOnly };
        Backend = new VhostUserBlkBackend(wrap is null ? Disk : wrap(Disk), options, Log);
        Server = new VhostUserServer(SocketPath, Backend, Log);
        _thread = new Thread(() =>
        {
            try
            {
                Server.Run(once: false);
            }
            catch (Exception e)
            {
                _failure = e;
            }
        }) { IsBackground = true };
        _thread.Start();
    }

    /// <summary>Server log lines, shown when a test fails.</summary>
    public LogCollector Log { get; } = new();

    public string SocketPath { get; }

    public MemoryBackend Disk { get; }

    public VhostUserBlkBackend Backend { get; }

    public VhostUserServer Server { get; }

    /// <summary>The server thread is still serving and has not thrown.</summary>
    public bool Alive => _thread.IsAlive && _failure is null;

    public Exception? Failure => _failure;

    public TestClient Connect() => new(SocketPath);

    public void Dispose()
    {
        Server.Stop();
        Assert.True(_thread.Join(30_000), "the server did not stop");
        Server.Dispose();
        Backend.Dispose();
        Disk.Dispose();
        Directory.Delete(_dir, recursive: true);
        Assert.Null(_failure);
    }
}
