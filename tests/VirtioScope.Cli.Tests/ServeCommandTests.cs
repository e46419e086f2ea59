namespace VirtioScope.Cli.Tests;

/// <summary>serve's usage and set-up errors: one line on stderr and exit code 2, nothing left behind.</summary>
[Collection("console")]
public sealed class ServeCommandTests
{
    [Fact]
    public void MissingSocketOptionIsUsage()
    {
        using var dir = new TempDir();
        string image = dir.MakeRaw("d.raw", 1 << 20, 1);
        (int exit, _, string err) = CliRunner.Run("serve", image);
        Assert.Equal(2, exit);
        Assert.Contains("--vhost-user-blk", err, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingImageIsASetupError()
    {
        using var dir = new TempDir();
        (int exit, _, string err) = CliRunner.Run("serve", "--vhost-user-blk", dir.File("vu.sock"), dir.File("nope.qcow2"));
        Assert.Equal(2, exit);
        Assert.Contains("nope.qcow2", err, StringComparison.Ordinal);
        Assert.False(File.Exists(dir.File("vu.sock")));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("65")]
    public void QueueCountOutsideTheDeviceRangeIsUsage(string queues)
    {
        using var dir = new TempDir();
        string image = dir.MakeRaw("d.raw", 1 << 20, 1);
        (int exit, _, string err) = CliRunner.Run("serve", "--vhost-user-blk", dir.File("vu.sock"), "--num-queues", queues, image);
        Assert.Equal(2, exit);
        Assert.Contains("--num-queues", err, StringComparison.Ordinal);
    }

    [Fact]
    public void ARegularFileAtTheSocketPathIsNeverReplaced()
    {
        using var dir = new TempDir();
        string image = dir.MakeRaw("d.raw", 1 << 20, 1);
        string notASocket = dir.File("important.txt");
        File.WriteAllText(notASocket, "keep me");
        (int exit, _, string err) = CliRunner.Run("serve", "--vhost-user-blk", notASocket, image);
        Assert.Equal(2, exit);
        Assert.Contains("not a socket", err, StringComparison.Ordinal);
        Assert.Equal("keep me", File.ReadAllText(notASocket));
    }
}
