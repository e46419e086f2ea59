using VirtioScope.Mount;

namespace VirtioScope.Cli.Mount;

/// <summary>The parsed arguments of one <c>mount</c>.</summary>
internal sealed record MountRequest(
    string ImagePath,
    string MountPoint,
    string? Format,
    MountMode Mode,
    bool AllowOther,
    string? FuseOptions,
    string? LogFile,
    bool Verbose)
{
    /// <summary>The same mount as a <c>--foreground</c> command line, for the daemon.</summary>
    public IEnumerable<string> ForegroundArguments()
    {
        yield return "mount";
        yield return "--foreground";
        if (Format is not null)
        {
            yield return "-f";
            yield return Format;
        }
        if (Mode == MountMode.ReadWrite)
        {
            yield return "--rw";
        }
        if (Mode == MountMode.Snapshot)
        {
            yield return "--snapshot";
        }
        if (AllowOther)
        {
            yield return "--allow-other";
        }
        if (FuseOptions is not null)
        {
            yield return "-o";
            yield return FuseOptions;
        }
        if (LogFile is not null)
        {
            yield return "--log";
            yield return Path.GetFullPath(LogFile);
        }
        if (Verbose)
        {
            yield return "-v";
        }
        yield return ImagePath;
        yield return MountPoint;
    }
}
