using SharpFuzz;
using VirtioScope.Testing;

// Each AFL input is one structured device execution; a violation is turned into a crash so AFL keeps the input.
Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    IReadOnlyList<string> violations = DeviceFuzzTarget.Execute(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    if (violations.Count > 0)
    {
        throw new InvalidOperationException("device invariant violated: " + string.Join("; ", violations));
    }
});
