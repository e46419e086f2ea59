using System.CommandLine;
using VirtioScope.Images;

namespace VirtioScope.Cli.Images;

/// <summary><c>create -f raw|qcow2|vpc|vhdx [-o ...] [-b BACKING -F FMT] FILE [SIZE]</c>; for vpc and vhdx, -b (or -o parent=) makes a differencing image.</summary>
internal static class CreateCommand
{
    public static Command Create()
    {
        var format = new Option<string>("-f") { Description = "Format of the new image (raw, qcow2, vpc or vhdx)", DefaultValueFactory = _ => "raw" };
        var options = new Option<string?>("-o") { Description = "Format options: cluster_size, compat, compression_type, extended_l2, refcount_bits, lazy_refcounts, preallocation, data_file" };
        var backing = new Option<string?>("-b") { Description = "Backing file, or for vpc and vhdx the parent of a differencing image (relative names are relative to the new image)" };
        var backingFormat = new Option<string?>("-F") { Description = "Backing file format" };
        var quiet = new Option<bool>("-q") { Description = "Print nothing" };
        var file = new Argument<string>("FILE") { Description = "The image to create" };
        var size = new Argument<string?>("SIZE") { Description = "Virtual size, e.g. 64M or 10G (defaults to the backing file's)", Arity = ArgumentArity.ZeroOrOne };
        var cmd = new Command("create", "Create a new disk image");
        foreach (Option o in new Option[] { format, options, backing, backingFormat, quiet })
        {
            cmd.Options.Add(o);
        }
        cmd.Arguments.Add(file);
        cmd.Arguments.Add(size);
        cmd.SetAction(pr => CliSupport.Run(() =>
        {
            var o = new ImageCreateOptions
            {
                Format = ImageFormatNames.Parse(pr.GetValue(format)),
                BackingFile = pr.GetValue(backing),
                BackingFormat = ImageFormatNames.Parse(pr.GetValue(backingFormat)),
            };
            o = CliSupport.ApplyOptions(o, pr.GetValue(options));
            if (pr.GetValue(size) is { } s)
            {
                o = o with { Size = CliSupport.ParseSize(s) };
            }
            string path = pr.GetValue(file)!;
            using IDiskImage image = DiskImage.Create(path, o);
            if (!pr.GetValue(quiet))
            {
                Console.Out.WriteLine($"Formatting '{path}', fmt={o.Format.ToName()} size={image.VirtualSize}"
                    + (o.Format == ImageFormat.Qcow2 ? $" cluster_size={o.ClusterSize} compression_type={(o.Compression == CompressionType.Zstd ? "zstd" : "zlib")}" : "")
                    + (o.BackingFile is null ? "" : $" backing_file={o.BackingFile}"));
            }
            return 0;
        }));
        return cmd;
    }
}
