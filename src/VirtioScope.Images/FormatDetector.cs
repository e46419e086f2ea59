using System.Buffers.Binary;

namespace VirtioScope.Images;

/// <summary>Recognises a format from the first bytes of a file, like qemu-img's probing (without its scoring).</summary>
public static class FormatDetector
{
    /// <summary>How many leading bytes <see cref="Detect(ReadOnlySpan{byte})"/> looks at.</summary>
    public const int ProbeLength = 512;

    private const uint Qcow2Magic = 0x514649FB; // "QFI\xfb"
    private const uint VmdkSparseMagic = 0x4B444D56; // "KDMV"

    /// <summary>The format whose magic starts <paramref name="head"/>, or <see cref="ImageFormat.Raw"/>.</summary>
    public static ImageFormat Detect(ReadOnlySpan<byte> head)
    {
        if (head.Length >= 4 && BinaryPrimitives.ReadUInt32BigEndian(head) == Qcow2Magic)
        {
            return ImageFormat.Qcow2;
        }
        if (head.StartsWith("vhdxfile"u8))
        {
            return ImageFormat.Vhdx;
        }
        if (head.StartsWith("conectix"u8))
        {
            return ImageFormat.Vpc;
        }
        if ((head.Length >= 4 && BinaryPrimitives.ReadUInt32BigEndian(head) == VmdkSparseMagic)
            || head.StartsWith("# Disk DescriptorFile"u8) || head.StartsWith("COWD"u8))
        {
            return ImageFormat.Vmdk;
        }
        return ImageFormat.Raw;
    }

    /// <summary>Reads the head of <paramref name="path"/> and detects its format.</summary>
    public static ImageFormat Detect(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        Span<byte> head = stackalloc byte[ProbeLength];
        int n = RandomAccess.Read(handle, head, 0);
        return Detect(head[..n]);
    }
}
