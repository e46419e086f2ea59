using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace VirtioScope.Fuse.Tests;

/// <summary>Mounts <see cref="TestFileSystem"/> through the real libfuse3 (needs /dev/fuse and fusermount3; as in CI, run as root).</summary>
public sealed class FuseMountTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vs-fuse-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly CollectingSink _sink = new();
    private readonly TestFileSystem _fs = new();
    private readonly FuseMount _mount;
    private readonly Thread _loop;
    private int _loopResult = int.MinValue;

    public FuseMountTests()
    {
        Directory.CreateDirectory(_dir);
        Logger logger = new LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(_sink).CreateLogger();
        _mount = FuseMount.Create(_fs, _dir, new FuseMountOptions { Subtype = "vstest" }, logger);
        _loop = new Thread(() => _loopResult = _mount.Run()) { IsBackground = true, Name = "fuse loop" };
        _loop.Start();
    }

    public void Dispose()
    {
        _mount.RequestStop();
        bool ended = _loop.Join(TimeSpan.FromSeconds(30));
        if (!ended && IsMounted(_dir))
        {
            Cleanup.ForceUnmount(_dir);
        }
        _mount.Dispose();
        Directory.Delete(_dir);
    }

    private static bool IsMounted(string dir) => File.ReadLines("/proc/self/mountinfo").Any(l => l.Split(' ')[4] == dir);

    [Fact]
    public void Lists_and_reads_files_through_the_kernel()
    {
        Assert.True(IsMounted(_dir));
        Assert.Contains(File.ReadLines("/proc/self/mountinfo"), l => l.Split(' ')[4] == _dir && l.Contains(" fuse.vstest ", StringComparison.Ordinal));
        string[] names = Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        Assert.Equal(["big", "boom", "hello"], names);
        Assert.Equal(TestFileSystem.Hello, File.ReadAllBytes(Path.Combine(_dir, "hello")));
        Assert.Equal(TestFileSystem.Hello.Length, new FileInfo(Path.Combine(_dir, "hello")).Length);
    }

    [Fact]
    public void Large_direct_io_reads_are_byte_exact()
    {
        byte[] data = File.ReadAllBytes(Path.Combine(_dir, "big"));
        Assert.Equal(TestFileSystem.BigSize, data.Length);
        for (int i = 0; i < data.Length; i++)
        {
            if (data[i] != TestFileSystem.BigByte(i))
            {
                Assert.Fail($"byte {i} is {data[i]}, expected {TestFileSystem.BigByte(i)}");
            }
        }
        // 3 MiB in at most 1 MiB requests: a handful of reads, not hundreds of 4 KiB ones.
        Assert.InRange(_fs.Reads, 4, 16);
    }

    [Fact]
    public void Serving_reads_allocates_nothing_per_request()
    {
        byte[] buffer = new byte[1 << 20];
        using Microsoft.Win32.SafeHandles.SafeFileHandle file = File.OpenHandle(Path.Combine(_dir, "big"));
        for (int i = 0; i < 3; i++)
        {
            RandomAccess.Read(file, buffer, 0); // warm up: JIT, tiering, libfuse threads
        }
        int readsBefore = _fs.Reads;
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < 100; i++)
        {
            RandomAccess.Read(file, buffer, (i % 3) * (1L << 20));
        }
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.True(_fs.Reads - readsBefore >= 100, "the reads did not reach the file system");
        // 100 requests of 1 MiB: a per-request buffer or boxed state would show up as megabytes.
        Assert.True(allocated < 64 * 1024, $"{allocated} bytes allocated while serving 100 reads");
    }

    [Fact]
    public void A_callback_exception_becomes_EIO_and_is_logged()
    {
        var e = Assert.ThrowsAny<IOException>(() => File.ReadAllBytes(Path.Combine(_dir, "boom")));
        Assert.Contains("Input/output error", e.Message, StringComparison.Ordinal);
        Assert.Contains(_sink.Events, ev => ev.Level == LogEventLevel.Error && ev.Exception is InvalidOperationException);
        // The file system keeps serving after the failure.
        Assert.Equal(TestFileSystem.Hello, File.ReadAllBytes(Path.Combine(_dir, "hello")));
    }

    [Fact]
    public void Unimplemented_operations_answer_ENOSYS()
    {
        var e = Assert.ThrowsAny<IOException>(() => Directory.CreateDirectory(Path.Combine(_dir, "newdir")));
        Assert.Contains("Function not implemented", e.Message, StringComparison.Ordinal);
        Assert.ThrowsAny<IOException>(() => File.ReadAllBytes(Path.Combine(_dir, "missing")));
    }

    [Fact]
    public void RequestStop_ends_the_loop_and_unmounts()
    {
        _mount.RequestStop();
        Assert.True(_loop.Join(TimeSpan.FromSeconds(30)), "the FUSE loop did not end");
        Assert.False(IsMounted(_dir));
        Assert.NotEqual(int.MinValue, _loopResult);
    }

    [Fact]
    public void An_outside_fusermount_unmount_ends_the_loop()
    {
        Cleanup.Run("fusermount3", "-u", _dir);
        Assert.True(_loop.Join(TimeSpan.FromSeconds(30)), "the FUSE loop did not end");
        Assert.False(IsMounted(_dir));
    }

    private sealed class CollectingSink : ILogEventSink
    {
        private readonly List<LogEvent> _events = [];

        public IReadOnlyList<LogEvent> Events
        {
            get
            {
                lock (_events)
                {
                    return [.. _events];
                }
            }
        }

        public void Emit(LogEvent logEvent)
        {
            lock (_events)
            {
                _events.Add(logEvent);
            }
        }
    }
}
