using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using VirtioScope.Images;

namespace VirtioScope.Cli.Images;

/// <summary>
/// <c>check [-f FMT] [-r leaks|all] [--output human|json] IMAGE</c>. Exit codes as qemu-img: 0 clean, 2 corruptions,
/// 3 leaks only, 1 the check could not finish, 63 the format has no checks.
/// </summary>
internal static class CheckCommand
{
    public static Command Create()
    {
        var format = new Option<string?>("-f") { Description = "Image format (detected when omitted)" };
        var repair = new Option<string?>("-r") { Description = "Repair leaks, or all errors" };
        repair.AcceptOnlyFromAmong("leaks", "all");
        var output = new Option<string>("--output") { Description = "human or json", DefaultValueFactory = _ => "human" };
        output.AcceptOnlyFromAmong("human", "json");
        var quiet = new Option<bool>("-q") { Description = "Print nothing" };
        var image = new Argument<string>("IMAGE") { Description = "The image file" };
        var cmd = new Command("check", "Check an image's metadata for leaks and corruption");
        foreach (Option o in new Option[] { format, repair, output, quiet })
        {
            cmd.Options.Add(o);
        }
        cmd.Arguments.Add(image);
        cmd.SetAction(pr => CliSupport.Run(() =>
        {
            string path = pr.GetValue(image)!;
            CheckRepair mode = pr.GetValue(repair) switch { "leaks" => CheckRepair.Leaks, "all" => CheckRepair.All, _ => CheckRepair.None };
            using IDiskImage img = DiskImage.Open(path, new ImageOpenOptions
            {
                Format = ImageFormatNames.Parse(pr.GetValue(format)),
                ReadOnly = mode == CheckRepair.None,
                OpenBacking = false,
                RepairDirty = false,
                AllowCorruptWrite = mode == CheckRepair.All,
                ForCheck = true,
            });
            if (img is not ICheckableImage checkable)
            {
                Console.Error.WriteLine($"virtioscope: {path}: This image format does not support checks");
                return 63;
            }
            CheckReport r = checkable.Check(mode);
            bool json = pr.GetValue(output) == "json";
            if (json)
            {
                WriteJson(r, path, img.Format.ToName());
            }
            else if (!pr.GetValue(quiet))
            {
                WriteHuman(r);
            }
            if (r.CheckErrors > 0)
            {
                return 1;
            }
            return r.Corruptions > 0 ? 2 : r.Leaks > 0 ? 3 : 0;
        }));
        return cmd;
    }

    private static void WriteJson(CheckReport r, string path, string format)
    {
        using Stream stdout = Console.OpenStandardOutput();
        using (Utf8JsonWriter w = CliSupport.JsonWriter(stdout))
        {
            w.WriteStartObject();
            if (r.HasAllocationCounts)
            {
                w.WriteNumber("image-end-offset", r.ImageEndOffset);
                w.WriteNumber("total-clusters", r.TotalClusters);
            }
            w.WriteNumber("check-errors", r.CheckErrors);
            if (r.Leaks > 0)
            {
                w.WriteNumber("leaks", r.Leaks);
            }
            if (r.Corruptions > 0)
            {
                w.WriteNumber("corruptions", r.Corruptions);
            }
            if (r.LeaksFixed > 0)
            {
                w.WriteNumber("leaks-fixed", r.LeaksFixed);
            }
            if (r.CorruptionsFixed > 0)
            {
                w.WriteNumber("corruptions-fixed", r.CorruptionsFixed);
            }
            if (r.HasAllocationCounts)
            {
                w.WriteNumber("allocated-clusters", r.AllocatedClusters);
            }
            if (r.FragmentedClusters > 0)
            {
                w.WriteNumber("fragmented-clusters", r.FragmentedClusters);
            }
            if (r.CompressedClusters > 0)
            {
                w.WriteNumber("compressed-clusters", r.CompressedClusters);
            }
            w.WriteString("filename", path);
            w.WriteString("format", format);
            w.WriteEndObject();
        }
        stdout.Write("\n"u8);
    }

    private static void WriteHuman(CheckReport r)
    {
        var inv = CultureInfo.InvariantCulture;
        foreach (string m in r.Messages)
        {
            Console.Error.WriteLine(m);
        }
        if (r.LeaksFixed > 0 || r.CorruptionsFixed > 0)
        {
            Console.Out.WriteLine(string.Create(inv, $"The following inconsistencies were found and repaired:\n\n    {r.LeaksFixed} leaked clusters\n    {r.CorruptionsFixed} corruptions\n\nDouble checking the fixed image now..."));
        }
        if (r.Corruptions == 0 && r.Leaks == 0 && r.CheckErrors == 0)
        {
            Console.Out.WriteLine("No errors were found on the image.");
        }
        if (r.Corruptions > 0)
        {
            Console.Out.WriteLine(string.Create(inv, $"\n{r.Corruptions} errors were found on the image.\nData may be corrupted, or further writes to the image may corrupt it."));
        }
        if (r.Leaks > 0)
        {
            Console.Out.WriteLine(string.Create(inv, $"\n{r.Leaks} leaked clusters were found on the image.\nThis means waste of disk space, but no harm to data."));
        }
        if (r.CheckErrors > 0)
        {
            Console.Out.WriteLine(string.Create(inv, $"\n{r.CheckErrors} internal errors have occurred during the check."));
        }
        if (r.TotalClusters > 0 && r.AllocatedClusters > 0)
        {
            // As qemu-img prints it: allocation against all clusters, fragmentation and compression against allocated ones.
            double ofTotal = 100.0 * r.AllocatedClusters / r.TotalClusters;
            double ofAllocated(long n) => 100.0 * n / r.AllocatedClusters;
            Console.Out.WriteLine(string.Create(inv, $"{r.AllocatedClusters}/{r.TotalClusters} = {ofTotal:F2}% allocated, {ofAllocated(r.FragmentedClusters):F2}% fragmented, {ofAllocated(r.CompressedClusters):F2}% compressed clusters"));
        }
        if (r.HasAllocationCounts)
        {
            Console.Out.WriteLine(string.Create(inv, $"Image end offset: {r.ImageEndOffset}"));
        }
    }
}
