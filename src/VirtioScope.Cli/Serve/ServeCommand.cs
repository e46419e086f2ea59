using System.CommandLine;
using System.Runtime.InteropServices;
using Serilog.Core;
using VirtioScope.Block;
using VirtioScope.Cli.Images;
using VirtioScope.Images;
using VirtioScope.VhostUser;
using VirtioScope.Virtio;

namespace VirtioScope.Cli.Serve;

/// <summary>
/// <c>serve --vhost-user-blk SOCKET [-f FMT] IMAGE [--readonly] [--num-queues N] [--no-packed] [--once]</c>: serves
/// the image as a vhost-user-blk back-end to QEMU (or any vhost-user front-end) until SIGINT/SIGTERM, or until the
/// first front-end disconnects with --once. Exit codes: 0 stopped normally, 1 the server failed while serving, 2 bad
/// usage or the image or socket could not be set up.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var socket = new Option<string>("--vhost-user-blk") { Description = "Unix socket path to listen on for a vhost-user front-end", Required = true };
        var format = new Option<string?>("-f") { Description = "Image format (detected by its magic when omitted)" };
        var readOnly = new Option<bool>("--readonly") { Description = "Open the image read-only; the device offers VIRTIO_BLK_F_RO" };
        var queues = new Option<int>("--num-queues") { Description = "Request queues (more than one offers VIRTIO_BLK_F_MQ); QEMU's num-queues must not exceed it", DefaultValueFactory = _ => 1 };
        var noPacked = new Option<bool>("--no-packed") { Description = "Do not offer packed virtqueues (VIRTIO_F_RING_PACKED)" };
        var once = new Option<bool>("--once") { Description = "Exit when the first front-end disconnects instead of waiting for the next" };
        var log = new Option<string?>("--log") { Description = "Write a compact JSON (CLEF) log to this file" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log ring starts and stops as well as connections" };
        var image = new Argument<string>("IMAGE") { Description = "The disk image to serve" };
        var command = new Command("serve", "Serve an image to a real guest as a vhost-user-blk back-end");
        foreach (Option o in new Option[] { socket, format, readOnly, queues, noPacked, once, log, verbose })
        {
            command.Options.Add(o);
        }
        command.Arguments.Add(image);
        command.SetAction(parse =>
        {
            int numQueues = parse.GetValue(queues);
            if (numQueues is < 1 or > 64)
            {
                Console.Error.WriteLine($"virtioscope: --num-queues {numQueues} is outside 1..64");
                return ExitCodes.Usage;
            }
            var request = new ServeRequest(parse.GetValue(socket)!, parse.GetValue(image)!, parse.GetValue(format), parse.GetValue(readOnly),
                numQueues, !parse.GetValue(noPacked), parse.GetValue(once));
            using Logger logger = Logging.Create(parse.GetValue(verbose) ? 2 : 1, parse.GetValue(log));
            return Serve(request, logger);
        });
        return command;
    }

    private static int Serve(ServeRequest request, Logger logger)
    {
        ImageBlockBackend backend;
        VhostUserBlkBackend device;
        VhostUserServer server;
        try
        {
            backend = new ImageBlockBackend(CliSupport.Open(request.Image, request.Format, request.ReadOnly));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or FormatException)
        {
            Console.Error.WriteLine($"virtioscope: {e.Message.ReplaceLineEndings(" ")}");
            return ExitCodes.Usage;
        }
        using (backend)
        {
            ulong features = BlockDeviceOptions.SupportedFeatures & ~BlkFeatures.ReadOnly;
            if (!request.Packed)
            {
                features &= ~VirtioFeatures.RingPacked;
            }
            var options = new BlockDeviceOptions { Features = features, NumQueues = request.NumQueues };
            device = new VhostUserBlkBackend(backend, options, logger);
            using (device)
            {
                try
                {
                    server = new VhostUserServer(request.Socket, device, logger);
                }
                catch (IOException e)
                {
                    Console.Error.WriteLine($"virtioscope: {e.Message}");
                    return ExitCodes.Usage;
                }
                using (server)
                {
                    using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
                    using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
                    logger.Information("Serving {Image} ({Size} bytes{ReadOnly}) over vhost-user-blk on {Socket}, {Queues} queue(s)",
                        request.Image, backend.Size, backend.IsReadOnly ? ", read-only" : "", server.SocketPath, request.NumQueues);
                    try
                    {
                        server.Run(request.Once);
                    }
                    catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
                    {
                        Console.Error.WriteLine($"virtioscope: serving failed: {e.Message}");
                        return ExitCodes.Failures;
                    }
                    // Whatever the guest left in a write-back cache is made durable before exiting.
                    backend.Flush();
                    BlockStatistics s = device.Device.Statistics;
                    logger.Information("Stopped after {Connections} connection(s): {Requests} requests, {Read} bytes read, {Written} bytes written, {Flushes} flushes",
                        server.Connections, s.Requests, s.BytesRead, s.BytesWritten, s.Flushes);
                    return ExitCodes.Success;

                    void Stop(PosixSignalContext context)
                    {
                        context.Cancel = true;
                        server.Stop();
                    }
                }
            }
        }
    }

    private sealed record ServeRequest(string Socket, string Image, string? Format, bool ReadOnly, int NumQueues, bool Packed, bool Once);
}
