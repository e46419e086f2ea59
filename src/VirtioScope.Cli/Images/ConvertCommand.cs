using System.CommandLine;
using VirtioScope.Images;

namespace VirtioScope.Cli.Images;

/// <summary>
/// <c>convert [-f FMT] -O FMT [-o ...] [-c] [-p] [--progress json] [-S SIZE] [-n] [-B BACKING] [-m N] [-W] [-l SNAPSHOT] SRC... DST</c>.
/// </summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var format = new Option<string?>("-f") { Description = "Source format (detected when omitted)" };
        var outFormat = new Option<string>("-O") { Description = "Output format (raw or qcow2)", DefaultValueFactory = _ => "raw" };
        var options = new Option<string?>("-o") { Description = "Output format options, as for create" };
        var compress = new Option<bool>("-c") { Description = "Compress the output (qcow2), using all cores" };
        var progress = new Option<bool>("-p") { Description = "Show progress" };
        var progressMode = new Option<string?>("--progress") { Description = "json: print progress as JSON lines" };
        progressMode.AcceptOnlyFromAmong("json");
        var sparse = new Option<string>("-S") { Description = "Zero runs of at least this size are left unallocated (0: allocate everything)", DefaultValueFactory = _ => "4k" };
        var noCreate = new Option<bool>("-n") { Description = "Do not create the target; write into an existing image" };
        var backing = new Option<string?>("-B") { Description = "Backing file of the output; ranges equal to it are not written" };
        var backingFormat = new Option<string?>("-F") { Description = "Format of the -B backing file" };
        var workers = new Option<int>("-m") { Description = "Parallel workers (default: all cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var outOfOrder = new Option<bool>("-W") { Description = "Allow out-of-order writes: with -c, clusters are stored as their compression finishes" };
        var snapshot = new Option<string?>("-l") { Description = "Convert this internal snapshot of the source (id or name)" };
        var quiet = new Option<bool>("-q") { Description = "Print nothing" };
        var cache = new Option<string>("-t") { Description = "Output cache mode: unsafe (default, as qemu-img: no flushes) or writeback", DefaultValueFactory = _ => "unsafe" };
        cache.AcceptOnlyFromAmong("unsafe", "writeback", "none", "writethrough", "directsync");
        var files = new Argument<string[]>("FILES") { Description = "SRC... DST", Arity = new ArgumentArity(2, 1024) };
        var cmd = new Command("convert", "Copy one or more images (concatenated) into a new image of any supported format");
        foreach (Option o in new Option[] { format, outFormat, options, compress, progress, progressMode, sparse, noCreate, backing, backingFormat, workers, outOfOrder, snapshot, quiet, cache })
        {
            cmd.Options.Add(o);
        }
        cmd.Arguments.Add(files);
        cmd.SetAction(pr => CliSupport.Run(() =>
        {
            string[] all = pr.GetValue(files)!;
            string dst = all[^1];
            string? snap = pr.GetValue(snapshot);
            if (snap is not null && all.Length != 2)
            {
                throw new ArgumentException("-l works with a single source");
            }
            var sources = new List<IDiskImage>();
            IDiskImage? target = null;
            IDiskImage? targetBacking = null;
            try
            {
                foreach (string src in all[..^1])
                {
                    IDiskImage image = CliSupport.Open(src, pr.GetValue(format), readOnly: true);
                    if (snap is not null)
                    {
                        if (image is not ISnapshotStore store)
                        {
                            image.Dispose();
                            throw new ArgumentException($"{src}: {image.Format.ToName()} images have no snapshots");
                        }
                        sources.Add(new OwningSnapshot(store.OpenSnapshot(snap), image));
                        continue;
                    }
                    sources.Add(image);
                }
                long total = sources.Sum(s => s.VirtualSize);
                CacheMode cacheMode = pr.GetValue(cache) == "unsafe" ? CacheMode.Unsafe : CacheMode.Writeback;
                ImageCreateOptions create = CliSupport.ApplyOptions(new ImageCreateOptions { Format = ImageFormatNames.Parse(pr.GetValue(outFormat)), Size = total, Cache = cacheMode }, pr.GetValue(options));
                if (pr.GetValue(backing) is { } b)
                {
                    create = create with { BackingFile = b, BackingFormat = ImageFormatNames.Parse(pr.GetValue(backingFormat)), Size = total };
                }
                bool existing = pr.GetValue(noCreate);
                target = existing
                    ? DiskImage.Open(dst, new ImageOpenOptions { Format = create.Format, Cache = cacheMode })
                    : DiskImage.Create(dst, create);
                if (create.BackingFile is not null)
                {
                    targetBacking = target.Backing;
                }
                var convert = new ConvertOptions
                {
                    Compress = pr.GetValue(compress),
                    SparseSize = CliSupport.ParseSize(pr.GetValue(sparse)!, "-S"),
                    Workers = Math.Max(1, pr.GetValue(workers)),
                    TargetHasData = existing,
                    TargetBacking = targetBacking,
                    OutOfOrder = pr.GetValue(outOfOrder),
                };
                string mode = pr.GetValue(progressMode) ?? (pr.GetValue(progress) ? "auto" : "none");
                IDiskImage t = target;
                new ProgressReporter(mode).Run(total, report => ImageConverter.Convert(sources, t, convert, report));
                return 0;
            }
            finally
            {
                target?.Dispose();
                foreach (IDiskImage s in sources)
                {
                    s.Dispose();
                }
            }
        }));
        return cmd;
    }

    /// <summary>A snapshot view that also closes the image it was opened from.</summary>
    private sealed class OwningSnapshot(IDiskImage view, IDiskImage owner) : IDiskImage
    {
        private readonly IDiskImage _owner = owner;

        public string FilePath => view.FilePath;

        public ImageFormat Format => view.Format;

        public long VirtualSize => view.VirtualSize;

        public bool IsReadOnly => true;

        public IDiskImage? Backing => view.Backing;

        public long ActualSize => view.ActualSize;

        public void Read(long offset, Span<byte> destination) => view.Read(offset, destination);

        public void Write(long offset, ReadOnlySpan<byte> source) => view.Write(offset, source);

        public void Flush() => view.Flush();

        public void Discard(long offset, long length) => view.Discard(offset, length);

        public void WriteZeroes(long offset, long length, VirtioScope.Block.ZeroingMode mode) => view.WriteZeroes(offset, length, mode);

        public ImageExtent GetExtent(long offset, long length) => view.GetExtent(offset, length);

        public void Dispose()
        {
            view.Dispose();
            _owner.Dispose();
        }
    }
}
