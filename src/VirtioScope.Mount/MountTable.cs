namespace VirtioScope.Mount;

/// <summary>Reads /proc/self/mountinfo: whether a directory is a mount point, and of which type.</summary>
public static class MountTable
{
    /// <summary>The file-system type mounted at <paramref name="directory"/> (for example <c>fuse.virtioscope</c>), or null.</summary>
    public static string? TypeAt(string directory)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        string? found = null;
        foreach (string line in File.ReadLines("/proc/self/mountinfo"))
        {
            string[] f = line.Split(' ');
            int sep = Array.IndexOf(f, "-");
            if (f.Length < 5 || sep < 0 || sep + 1 >= f.Length)
            {
                continue;
            }
            if (Unescape(f[4]) == full)
            {
                found = f[sep + 1];
            }
        }
        return found;
    }

    private static string Unescape(string s) => s.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
        .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);
}
