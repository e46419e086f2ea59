using System.CommandLine;
using VirtioScope.Cli.Images;

var root = new RootCommand("VirtioScope: virtual block device and disk image toolkit (qemu-img compatible image verbs)");
root.Subcommands.Add(InfoCommand.Create());
root.Subcommands.Add(CreateCommand.Create());
root.Subcommands.Add(ConvertCommand.Create());
root.Subcommands.Add(CheckCommand.Create());
root.Subcommands.Add(MapCommand.Create());
root.Subcommands.Add(CompareCommand.Create());
root.Subcommands.Add(ResizeCommand.Create());
root.Subcommands.Add(SnapshotCommand.Create());
return root.Parse(args).Invoke();
