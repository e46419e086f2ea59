using System.Runtime.InteropServices;
using System.Text;
using Serilog;
using VirtioScope.Fuse.Native;

namespace VirtioScope.Fuse;

/// <summary>
/// One mounted <see cref="IFuseFileSystem"/>: created mounted by <see cref="Create"/>, served by <see cref="Run"/>
/// (libfuse's multi-threaded loop) until unmounted from outside or by <see cref="RequestStop"/>, then disposed.
/// </summary>
public sealed unsafe class FuseMount : IDisposable
{
    private readonly ILogger _logger;
    private readonly FuseMountOptions _options;
    private readonly Lock _gate = new();
    private GCHandle _self;
    private nint _fuse;
    private nint _operations;
    private int _unmounted;

    private FuseMount(IFuseFileSystem fileSystem, string mountPoint, FuseMountOptions options, ILogger logger)
    {
        FileSystem = fileSystem;
        MountPoint = mountPoint;
        _options = options;
        _logger = logger;
    }

    /// <summary>The served file system.</summary>
    public IFuseFileSystem FileSystem { get; }

    /// <summary>The directory the file system is mounted on.</summary>
    public string MountPoint { get; }

    /// <summary>Mounts <paramref name="fileSystem"/> on <paramref name="mountPoint"/>; requests are served once <see cref="Run"/> is called.</summary>
    /// <exception cref="FuseException">libfuse3 or /dev/fuse is missing, or the mount failed.</exception>
    public static FuseMount Create(IFuseFileSystem fileSystem, string mountPoint, FuseMountOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        ArgumentNullException.ThrowIfNull(options);
        if (!File.Exists("/dev/fuse"))
        {
            throw new FuseException("FUSE is not available: /dev/fuse does not exist (load the fuse module)");
        }
        var mount = new FuseMount(fileSystem, mountPoint, options, logger);
        try
        {
            mount.Start();
        }
        catch (DllNotFoundException e)
        {
            mount.Dispose();
            throw new FuseException("FUSE is not available: libfuse3.so.3 cannot be loaded (install fuse3)", e);
        }
        catch
        {
            mount.Dispose();
            throw;
        }
        return mount;
    }

    private void Start()
    {
        _self = GCHandle.Alloc(this);
        _operations = Dispatcher.CreateOperations();
        string[] argv = ["virtioscope", "-o", _options.OptionList()];
        var pointers = new nint[argv.Length + 1];
        try
        {
            for (int i = 0; i < argv.Length; i++)
            {
                pointers[i] = Marshal.StringToCoTaskMemUTF8(argv[i]);
            }
            fixed (nint* p = pointers)
            {
                var args = new FuseArgs { Argc = argv.Length, Argv = (byte**)p, Allocated = 0 };
                _fuse = LibFuse.New(&args, _operations, (nuint)(OperationSlots.Count * sizeof(nint)), GCHandle.ToIntPtr(_self));
            }
        }
        finally
        {
            foreach (nint s in pointers)
            {
                Marshal.FreeCoTaskMem(s);
            }
        }
        if (_fuse == 0)
        {
            throw new FuseException($"libfuse rejected the options '{_options.OptionList()}'");
        }
        if (LibFuse.Mount(_fuse, MountPoint) != 0)
        {
            _unmounted = 1;
            throw new FuseException($"cannot mount on {MountPoint} (see libfuse's message above)");
        }
        _logger.Information("Mounted {MountPoint}", MountPoint);
    }

    /// <summary>Serves requests on libfuse's worker threads until the file system is unmounted; returns libfuse's result.</summary>
    public int Run()
    {
        nint config = LibFuse.LoopConfigCreate();
        try
        {
            LibFuse.LoopConfigSetMaxThreads(config, (uint)_options.MaxThreads);
            // Keep idle workers instead of ending and re-creating them: each new native thread entering .NET costs
            // a managed Thread object, which would be an allocation per request under bursty load.
            LibFuse.LoopConfigSetIdleThreads(config, (uint)_options.MaxThreads);
            LibFuse.LoopConfigSetCloneFd(config, 0);
            return LibFuse.LoopMultiThreaded(_fuse, config);
        }
        finally
        {
            LibFuse.LoopConfigDestroy(config);
        }
    }

    /// <summary>Ends <see cref="Run"/> and unmounts; safe to call from a signal handler thread.</summary>
    public void RequestStop()
    {
        lock (_gate)
        {
            if (_fuse != 0)
            {
                LibFuse.Exit(_fuse);
                UnmountOnce();
            }
        }
    }

    private void UnmountOnce()
    {
        if (_fuse != 0 && Interlocked.Exchange(ref _unmounted, 1) == 0)
        {
            LibFuse.Unmount(_fuse);
            _logger.Information("Unmounted {MountPoint}", MountPoint);
        }
    }

    /// <summary>
    /// Unmounts if still mounted and frees libfuse's state. Call after <see cref="Run"/> has returned; waits for a
    /// <see cref="RequestStop"/> running on another thread (a signal handler) so libfuse is never freed under it.
    /// </summary>
    public void Dispose()
    {
        lock (_gate)
        {
            UnmountOnce();
            if (_fuse != 0)
            {
                LibFuse.Destroy(_fuse);
                _fuse = 0;
            }
        }
        if (_operations != 0)
        {
            NativeMemory.Free((void*)_operations);
            _operations = 0;
        }
        if (_self.IsAllocated)
        {
            _self.Free();
        }
    }

    internal void Configure(byte* conn, byte* config)
    {
        *(uint*)(conn + ConnInfoLayout.MaxReadahead) = (uint)_options.MaxReadahead;
        *(uint*)(conn + ConnInfoLayout.MaxBackground) = 64;
        *(double*)(config + ConfigLayout.EntryTimeout) = _options.AttributeTimeout;
        *(double*)(config + ConfigLayout.AttrTimeout) = _options.AttributeTimeout;
        *(double*)(config + ConfigLayout.NegativeTimeout) = _options.AttributeTimeout;
        _logger.Debug("FUSE init: max_write {MaxWrite}, max_readahead {MaxReadahead}",
            *(uint*)(conn + ConnInfoLayout.MaxWrite), *(uint*)(conn + ConnInfoLayout.MaxReadahead));
    }

    internal void ReportException(string operation, string path, Exception e)
        => _logger.Error(e, "FUSE {Operation} {Path} failed with an unexpected exception; answered EIO", operation, path);

    /// <summary>Decodes a UTF-8 path for messages.</summary>
    public static string PathText(ReadOnlySpan<byte> path) => Encoding.UTF8.GetString(path);
}
