using Serilog;

namespace VirtioScope.Fuse.Tests;

public sealed class FuseErrorTests
{
    [Fact]
    public void Mounting_on_a_missing_directory_fails_cleanly()
    {
        string missing = Path.Combine(Path.GetTempPath(), "vs-fuse-missing-" + Guid.NewGuid().ToString("N"));
        var e = Assert.Throws<FuseException>(() => FuseMount.Create(new TestFileSystem(), missing, new FuseMountOptions(), Serilog.Core.Logger.None));
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(File.ReadLines("/proc/self/mountinfo"), l => l.Contains(missing, StringComparison.Ordinal));
    }

    [Fact]
    public void Bad_fuse_options_are_refused()
    {
        string dir = Directory.CreateTempSubdirectory("vs-fuse-").FullName;
        try
        {
            Assert.Throws<FuseException>(() => FuseMount.Create(new TestFileSystem(), dir, new FuseMountOptions { ExtraOptions = "no_such_option_xyz" }, Serilog.Core.Logger.None));
            Assert.DoesNotContain(File.ReadLines("/proc/self/mountinfo"), l => l.Split(' ')[4] == dir);
        }
        finally
        {
            Directory.Delete(dir);
        }
    }
}
