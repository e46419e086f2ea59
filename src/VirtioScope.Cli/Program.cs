using VirtioScope.Cli;
using VirtioScope.Cli.Run;

return CommandLine.Invoke(args, RunCommand.Create());
