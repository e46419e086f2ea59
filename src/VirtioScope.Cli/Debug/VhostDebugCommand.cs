using System.CommandLine;
using Serilog;
using VirtioScope.Block;
using VirtioScope.Cli.Images;
using VirtioScope.Images;
using VirtioScope.Tui;
using VirtioScope.VhostDebug;
using VirtioScope.VhostUser;
using VirtioScope.Virtio;

namespace VirtioScope.Cli.Debug;

/// <summary>
/// <c>debug --vhost-user-blk SOCKET IMAGE [-f FMT] [--num-queues N] [--no-packed] [--readonly] [--batch FILE|- [--output text|json]]</c>:
/// serves IMAGE to a real guest as <c>serve</c> does, with the debugger holding the queues (starting paused), and runs
/// the batch commands against it, or the TUI without <c>--batch</c>. When the batch or the TUI ends the server stops. Exit codes as <c>debug</c>: 0 every command
/// worked, 1 one failed, 2 bad usage or the image or socket could not be set up.
/// </summary>
internal sealed class VhostDebugCommand
{
    private readonly Option<string?> _socket = new("--vhost-user-blk") { Description = "Debug a real guest: serve IMAGE as a vhost-user-blk back-end on this Unix socket (starts paused; the TUI, or --batch)" };
    private readonly Option<string?> _format = new("-f") { Description = "With --vhost-user-blk: image format (detected by its magic when omitted)" };
    private readonly Option<int> _queues = new("--num-queues") { Description = "With --vhost-user-blk: request queues offered", DefaultValueFactory = _ => 1 };
    private readonly Option<bool> _noPacked = new("--no-packed") { Description = "With --vhost-user-blk: do not offer packed virtqueues" };

    /// <summary>Adds the vhost-user options to <c>debug</c>.</summary>
    public static VhostDebugCommand AddTo(Command command)
    {
        var v = new VhostDebugCommand();
        foreach (Option o in new Option[] { v._socket, v._format, v._queues, v._noPacked })
        {
            command.Options.Add(o);
        }
        return v;
    }

    /// <summary>Whether this invocation debugs a vhost-user front-end.</summary>
    public bool Requested(ParseResult parse) => parse.GetValue(_socket) is not null;

    /// <summary>Serves and debugs until the batch or the TUI ends.</summary>
    public int Run(ParseResult parse, string? image, string? batchFile, bool json, ILogger logger)
    {
        string socket = parse.GetValue(_socket)!;
        int queues = parse.GetValue(_queues);
        if (image is null)
        {
            return Fail("debug --vhost-user-blk needs IMAGE");
        }
        foreach (string unsupported in (string[])["--record", "--trace", "--memory"])
        {
            if (parse.GetValue<string?>(unsupported) is not null)
            {
                return Fail($"{unsupported} cannot be combined with --vhost-user-blk (a real guest is neither recorded nor replayed yet)");
            }
        }
        if (parse.GetValue<bool>("--rw"))
        {
            return Fail("--rw does not apply to --vhost-user-blk: the guest's writes always reach the image, as with serve");
        }
        if (queues is < 1 or > 64)
        {
            return Fail($"--num-queues {queues} is outside 1..64");
        }
        if (!File.Exists(image))
        {
            return Fail($"{image}: no such file");
        }
        TextReader? input;
        try
        {
            input = batchFile is null ? null : batchFile == "-" ? Console.In : File.OpenText(batchFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail($"{batchFile}: {e.Message}");
        }
        using (input)
        {
            ImageBlockBackend disk;
            try
            {
                disk = new ImageBlockBackend(CliSupport.Open(image, parse.GetValue(_format), parse.GetValue<bool>("--readonly")));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or FormatException or ImageException)
            {
                return Fail(e.Message.ReplaceLineEndings(" "));
            }
            using (disk)
            {
                return Serve(socket, image, disk, queues, !parse.GetValue(_noPacked), input, json, logger);
            }
        }
    }

    private static int Serve(string socket, string image, ImageBlockBackend disk, int queues, bool packed, TextReader? input, bool json, ILogger logger)
    {
        ulong features = BlockDeviceOptions.SupportedFeatures & ~BlkFeatures.ReadOnly;
        if (!packed)
        {
            features &= ~VirtioFeatures.RingPacked;
        }
        using var device = new VhostUserBlkBackend(disk, new BlockDeviceOptions { Features = features, NumQueues = queues }, logger);
        VhostUserServer server;
        try
        {
            server = new VhostUserServer(socket, device, logger);
        }
        catch (IOException e)
        {
            return Fail(e.Message);
        }
        using (server)
        {
            Exception? failure = null;
            var thread = new Thread(() =>
            {
                try
                {
                    server.Run(once: false);
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
                {
                    failure = e;
                }
            }) { IsBackground = true, Name = "vhost-user server" };
            int failed;
            using (var controller = new VhostDebugController(device))
            {
                thread.Start();
                var interpreter = new VhostCommandInterpreter(controller, server.SocketPath, image);
                if (input is null)
                {
                    // The TUI's status line shows the socket and the paused state; q returns here and the server stops.
                    VhostDebuggerApp.Run(controller, interpreter);
                    failed = 0;
                }
                else
                {
                    Console.Error.WriteLine($"virtioscope: serving {image} on {server.SocketPath}; the device is paused until continue or step");
                    failed = VhostBatchRunner.Run(interpreter, input, Console.Out, json);
                }
            }
            server.Stop();
            thread.Join();
            // Whatever the guest left in a write-back cache is made durable before exiting, as serve does.
            disk.Flush();
            if (failure is not null)
            {
                Console.Error.WriteLine($"virtioscope: serving failed: {failure.Message}");
                return ExitCodes.Failures;
            }
            return failed == 0 ? ExitCodes.Success : ExitCodes.Failures;
        }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"virtioscope: {message}");
        return ExitCodes.Usage;
    }
}
