using BenchmarkDotNet.Running;

if (args.Length > 0 && args[0] == "trace-figures")
{
    return VirtioScope.Bench.TraceFigures.Run(args.Length > 1 ? long.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 100_000);
}
BenchmarkSwitcher.FromAssembly(typeof(VirtioScope.Bench.DeviceBenchmarks).Assembly).Run(args);
return 0;
