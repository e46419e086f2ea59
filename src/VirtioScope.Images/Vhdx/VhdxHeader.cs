using System.Buffers.Binary;
using static VirtioScope.Images.Vhdx.VhdxLayout;

namespace VirtioScope.Images.Vhdx;

/// <summary>One of the two 4 KiB VHDX headers; the valid one with the higher sequence number is current.</summary>
internal sealed class VhdxHeader
{
    public required byte[] Raw { get; init; }

    public required long Position { get; init; }

    public ulong Sequence => BinaryPrimitives.ReadUInt64LittleEndian(Raw.AsSpan(HeaderSequenceOffset));

    public Guid DataWriteGuid => ReadGuid(Raw.AsSpan(HeaderDataWriteGuidOffset));

    public Guid LogGuid => ReadGuid(Raw.AsSpan(HeaderLogGuidOffset));

    public uint LogLength => BinaryPrimitives.ReadUInt32LittleEndian(Raw.AsSpan(HeaderLogLengthOffset));

    public long LogOffset => BinaryPrimitives.ReadInt64LittleEndian(Raw.AsSpan(HeaderLogOffsetOffset));

    private static VhdxHeader? TryParse(byte[] raw, long position)
    {
        if (!raw.AsSpan().StartsWith(HeaderSignature)
            || BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(HeaderChecksumOffset)) != Crc(raw, HeaderChecksumOffset))
        {
            return null;
        }
        return new VhdxHeader { Raw = raw, Position = position };
    }

    /// <summary>Reads both headers and returns the current one, checking version, log version and log placement.</summary>
    public static VhdxHeader ReadCurrent(Microsoft.Win32.SafeHandles.SafeFileHandle file, long fileLength, string path)
    {
        byte[] a = new byte[HeaderSize];
        byte[] b = new byte[HeaderSize];
        VirtioScope.Images.Raw.HostFile.ReadFull(file, a, Header1Offset);
        VirtioScope.Images.Raw.HostFile.ReadFull(file, b, Header2Offset);
        VhdxHeader? h1 = TryParse(a, Header1Offset);
        VhdxHeader? h2 = TryParse(b, Header2Offset);
        VhdxHeader current = (h1, h2) switch
        {
            (null, null) => throw new ImageException(ImageErrorKind.Corrupt, path, "header", "neither header has a valid signature and CRC-32C"),
            (null, _) => h2!,
            (_, null) => h1,
            _ => h1.Sequence >= h2!.Sequence ? h1 : h2,
        };
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(current.Raw.AsSpan(HeaderVersionOffset));
        if (version != 1)
        {
            throw new ImageException(ImageErrorKind.UnsupportedFeature, path, "header version", $"version {version} is not 1");
        }
        ushort logVersion = BinaryPrimitives.ReadUInt16LittleEndian(current.Raw.AsSpan(HeaderLogVersionOffset));
        if (logVersion != 0)
        {
            throw new ImageException(ImageErrorKind.UnsupportedFeature, path, "log version", $"log version {logVersion} is not 0");
        }
        long logOffset = current.LogOffset;
        long logLength = current.LogLength;
        if (logLength % Mib != 0 || logOffset % Mib != 0 || logOffset < Mib || (logLength > 0 && logOffset > fileLength - logLength))
        {
            throw new ImageException(ImageErrorKind.InvalidField, path, "log offset", $"log of {logLength} bytes at {logOffset} is unaligned or outside the {fileLength}-byte file");
        }
        return current;
    }
}
