using VirtioScope.Testing;

namespace VirtioScope.Block.Tests;

/// <summary>
/// Runs the device fuzz target: every kept input in tests/fuzz-corpus/device (each once broke or stressed the
/// device), then a seeded mutation campaign that starts from them. tools/fuzz runs the same target under AFL.
/// </summary>
public class DeviceFuzzTests
{
    private static string CorpusDirectory
    {
        get
        {
            string? dir = AppContext.BaseDirectory;
            while (dir is not null && !Directory.Exists(Path.Combine(dir, "tests", "fuzz-corpus")))
            {
                dir = Path.GetDirectoryName(dir);
            }
            Assert.NotNull(dir);
            return Path.Combine(dir!, "tests", "fuzz-corpus", "device");
        }
    }

    public static TheoryData<string> CorpusFiles()
    {
        var data = new TheoryData<string>();
        foreach (string f in Directory.GetFiles(CorpusDirectory).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(f));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void Kept_inputs_run_clean(string name)
    {
        Assert.Empty(DeviceFuzzTarget.Execute(File.ReadAllBytes(Path.Combine(CorpusDirectory, name))));
    }

    [Fact]
    public void Seeded_mutation_campaign_finds_nothing()
    {
        var rng = new Random(20261128);
        byte[][] seeds = [.. Directory.GetFiles(CorpusDirectory).Order(StringComparer.Ordinal).Select(File.ReadAllBytes)];
        Assert.NotEmpty(seeds);
        for (int run = 0; run < 400; run++)
        {
            byte[] input = (byte[])seeds[run % seeds.Length].Clone();
            int flips = 1 + rng.Next(64);
            for (int i = 0; i < flips; i++)
            {
                input[rng.Next(input.Length)] = (byte)rng.Next(256);
            }
            IReadOnlyList<string> violations = DeviceFuzzTarget.Execute(input);
            Assert.True(violations.Count == 0, $"run {run}: {string.Join("; ", violations)}");
        }
    }
}
