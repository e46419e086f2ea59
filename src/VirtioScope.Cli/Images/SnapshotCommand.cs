using System.CommandLine;
using System.Globalization;
using System.Text;
using VirtioScope.Images;

namespace VirtioScope.Cli.Images;

/// <summary><c>snapshot -l|-c NAME|-d NAME|-a NAME IMAGE</c> for qcow2 internal snapshots.</summary>
internal static class SnapshotCommand
{
    public static Command Create()
    {
        var format = new Option<string?>("-f") { Description = "Image format (detected when omitted)" };
        var list = new Option<bool>("-l") { Description = "List snapshots" };
        var create = new Option<string?>("-c") { Description = "Create a snapshot with this name" };
        var delete = new Option<string?>("-d") { Description = "Delete the snapshot with this id or name" };
        var apply = new Option<string?>("-a") { Description = "Revert the disk to this snapshot" };
        var image = new Argument<string>("IMAGE") { Description = "The image file" };
        var cmd = new Command("snapshot", "List, create, delete or apply internal snapshots");
        foreach (Option o in new Option[] { format, list, create, delete, apply })
        {
            cmd.Options.Add(o);
        }
        cmd.Arguments.Add(image);
        cmd.SetAction(pr => CliSupport.Run(() =>
        {
            string path = pr.GetValue(image)!;
            string? c = pr.GetValue(create), d = pr.GetValue(delete), a = pr.GetValue(apply);
            int actions = (pr.GetValue(list) ? 1 : 0) + (c is null ? 0 : 1) + (d is null ? 0 : 1) + (a is null ? 0 : 1);
            if (actions != 1)
            {
                throw new ArgumentException("give exactly one of -l, -c, -d, -a");
            }
            bool readOnly = actions == 1 && pr.GetValue(list);
            using IDiskImage img = CliSupport.Open(path, pr.GetValue(format), readOnly, openBacking: !readOnly);
            if (img is not ISnapshotStore store)
            {
                throw new ArgumentException($"{path}: {img.Format.ToName()} images have no internal snapshots");
            }
            if (readOnly)
            {
                var sb = new StringBuilder();
                sb.AppendLine("Snapshot list:");
                AppendTable(sb, store.Snapshots);
                Console.Out.Write(sb.ToString());
            }
            else if (c is not null)
            {
                store.CreateSnapshot(c);
            }
            else if (d is not null)
            {
                store.DeleteSnapshot(d);
            }
            else
            {
                store.ApplySnapshot(a!);
            }
            return 0;
        }));
        return cmd;
    }

    /// <summary>qemu-img's snapshot table layout.</summary>
    public static void AppendTable(StringBuilder sb, IReadOnlyList<SnapshotInfo> snapshots)
    {
        var inv = CultureInfo.InvariantCulture;
        sb.Append(inv, $"{"ID",-10}{"TAG",-17}{"VM SIZE",8}{"DATE",20}{"VM CLOCK",13}{"ICOUNT",11}").AppendLine();
        foreach (SnapshotInfo s in snapshots)
        {
            long ms = s.VmClockNanoseconds / 1_000_000;
            string clock = string.Format(inv, "{0:00}:{1:00}:{2:00}.{3:000}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
            string date = s.Date.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", inv);
            sb.Append(inv, $"{s.Id,-9} {s.Name,-16} {CliSupport.HumanSize(s.VmStateSize),8}{date,20}{clock,13}{s.Icount,11}").AppendLine();
        }
    }
}
