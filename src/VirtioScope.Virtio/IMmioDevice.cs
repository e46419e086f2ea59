namespace VirtioScope.Virtio;

/// <summary>
/// A device's register window as the bus sees it: loads and stores of 1, 2 or 4 bytes at an offset from the window's
/// base. Implementations never throw for guest-supplied offsets, widths or values.
/// </summary>
public interface IMmioDevice
{
    /// <summary>Loads <paramref name="width"/> bytes at <paramref name="offset"/>; bad accesses read as zero.</summary>
    uint Read(ulong offset, int width);

    /// <summary>Stores <paramref name="width"/> bytes at <paramref name="offset"/>; bad accesses are ignored.</summary>
    void Write(ulong offset, int width, uint value);
}
