using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(VirtioScope.Bench.DeviceBenchmarks).Assembly).Run(args);
