using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using VirtioScope.Block;
using VirtioScope.Images.Raw;

namespace VirtioScope.Images.Vpc;

public sealed partial class VpcImage
{
    private const int MaxLocatorBytes = 64 * 1024;
    private static readonly byte[] Zeros = new byte[1 << 20];
    private long? _freeOffset;

    /// <inheritdoc />
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        ThrowIfReadOnly();
        CheckRange(offset, source.Length);
        if (_dyn is null)
        {
            RandomAccess.Write(_file, source, offset);
            return;
        }
        while (!source.IsEmpty)
        {
            long block = offset >> _blockShift;
            int inBlock = (int)(offset & (_blockSize - 1));
            int n = Math.Min(source.Length, _blockSize - inBlock);
            uint entry = Volatile.Read(ref _bat[block]);
            if (entry != Unallocated && _bitmaps.Length == 0)
            {
                RandomAccess.Write(_file, source[..n], entry * 512L + _bitmapSize + inBlock);
            }
            else
            {
                lock (_lock)
                {
                    entry = _bat[block] == Unallocated ? AllocateBlock(block) : _bat[block];
                    if (_bitmaps.Length == 0)
                    {
                        RandomAccess.Write(_file, source[..n], entry * 512L + _bitmapSize + inBlock);
                    }
                    else
                    {
                        WriteDifferencing(block, entry, offset, inBlock, source[..n]);
                    }
                }
            }
            source = source[n..];
            offset += n;
        }
    }

    /// <summary>
    /// Appends a block where the footer was: bitmap (all ones for dynamic disks, as QEMU; all zeroes for differencing
    /// disks), a hole for the data, and the footer after it; then points the BAT entry at it. Caller holds the lock.
    /// </summary>
    private uint AllocateBlock(long block)
    {
        _freeOffset ??= FreeOffset();
        long start = Math.Max(_freeOffset.Value, _fileLength - VpcFooter.Size);
        start = (start + 511) & ~511L;
        long end = start + _bitmapSize + _blockSize;
        if (end / 512 >= Unallocated)
        {
            throw new ImageException(ImageErrorKind.InvalidField, FilePath, "BAT", "the file would grow past the 2 TiB a VHD BAT can address");
        }
        bool differencing = _bitmaps.Length != 0;
        _fullBitmap ??= new byte[_bitmapSize];
        _fullBitmap.AsSpan().Fill(differencing ? (byte)0 : (byte)0xFF);
        RandomAccess.Write(_file, _fullBitmap, start);
        long dataStart = start + _bitmapSize;
        if (dataStart < _fileLength)
        {
            _fullBitmap.AsSpan().Clear();
            for (long p = dataStart; p < Math.Min(_fileLength, end); p += _bitmapSize)
            {
                RandomAccess.Write(_file, _fullBitmap.AsSpan(0, (int)Math.Min(_bitmapSize, Math.Min(_fileLength, end) - p)), p);
            }
        }
        RandomAccess.Write(_file, _footer.Raw, end);
        _fileLength = end + VpcFooter.Size;
        _freeOffset = end;
        uint entry = (uint)(start / 512);
        if (differencing)
        {
            _bitmaps[block] = new byte[_bitmapSize];
        }
        Span<byte> be = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(be, entry);
        RandomAccess.Write(_file, be, _dyn!.TableOffset + block * 4);
        Volatile.Write(ref _bat[block], entry);
        return entry;
    }

    private long FreeOffset()
    {
        long free = _dyn!.TableOffset + _bat.Length * 4L;
        foreach (uint e in _bat)
        {
            if (e != Unallocated)
            {
                free = Math.Max(free, e * 512L + _bitmapSize + _blockSize);
            }
        }
        return free;
    }

    /// <summary>
    /// Writes into a differencing block in whole groups of 8 sectors (one bitmap byte, 4 KiB): sectors of a group
    /// not yet present get the parent's bytes first, then the group's bits are all set. Keeping each bitmap byte all
    /// or nothing is what libvhdi reads correctly (it misreads the sectors after a set bit inside a byte). Caller holds the lock.
    /// </summary>
    private void WriteDifferencing(long block, uint entry, long offset, int inBlock, ReadOnlySpan<byte> data)
    {
        byte[] bitmap = Bitmap(block, entry);
        long blockData = entry * 512L + _bitmapSize;
        int groupBytes = Math.Min(8, _blockSize / 512) * 512;
        int first = inBlock / groupBytes;
        int last = (inBlock + data.Length - 1) / groupBytes;
        bool headPartial = inBlock % groupBytes != 0 || inBlock + data.Length < (first + 1) * groupBytes;
        bool tailPartial = (inBlock + data.Length) % groupBytes != 0;
        if (headPartial)
        {
            CopyUpGroup(bitmap, first, groupBytes, offset - inBlock, blockData);
        }
        if (tailPartial && last != first)
        {
            CopyUpGroup(bitmap, last, groupBytes, offset - inBlock, blockData);
        }
        RandomAccess.Write(_file, data, blockData + inBlock);
        bool changed = false;
        for (int s = first * groupBytes / 512; s < (last + 1) * groupBytes / 512; s++)
        {
            if (!IsPresent(bitmap, s))
            {
                bitmap[s >> 3] |= (byte)(0x80 >> (s & 7));
                changed = true;
            }
        }
        if (changed)
        {
            int from = (first * groupBytes / 512 >> 3) & ~511;
            int to = (((last + 1) * groupBytes / 512 - 1 >> 3) | 511) + 1;
            RandomAccess.Write(_file, bitmap.AsSpan(from, Math.Min(to, bitmap.Length) - from), entry * 512L + from);
        }
    }

    private void CopyUpGroup(byte[] bitmap, int group, int groupBytes, long blockGuestStart, long blockData)
    {
        Span<byte> sector = stackalloc byte[512];
        for (int s = group * groupBytes / 512; s < (group + 1) * groupBytes / 512; s++)
        {
            if (!IsPresent(bitmap, s))
            {
                ReadParent(blockGuestStart + s * 512L, sector);
                RandomAccess.Write(_file, sector, blockData + s * 512L);
            }
        }
    }

    /// <inheritdoc />
    public void Flush()
    {
        if (!IsReadOnly)
        {
            _cache.Flush(_file);
        }
    }

    /// <inheritdoc />
    public void Discard(long offset, long length)
    {
        // A VHD cannot release blocks; discard is a hint, so the data stays.
        ThrowIfReadOnly();
        CheckRange(offset, length);
    }

    /// <inheritdoc />
    public void WriteZeroes(long offset, long length, ZeroingMode mode)
    {
        ThrowIfReadOnly();
        CheckRange(offset, length);
        byte[] zeros = Zeros;
        for (long done = 0; done < length;)
        {
            long pos = offset + done;
            int n = (int)Math.Min(zeros.Length, length - done);
            if (_dyn is not null && _parent is null && Volatile.Read(ref _bat[pos >> _blockShift]) == Unallocated)
            {
                // An unallocated block of a dynamic disk without parent already reads as zeroes.
                n = (int)Math.Min(length - done, _blockSize - (pos & (_blockSize - 1)));
            }
            else
            {
                Write(pos, zeros.AsSpan(0, n));
            }
            done += n;
        }
    }

    private void ThrowIfReadOnly()
    {
        if (IsReadOnly)
        {
            throw new ImageException(ImageErrorKind.ReadOnly, FilePath, null, "image is opened read-only");
        }
    }

    /// <summary>
    /// The parent's path from the parent locators: W2ru (relative) first, then W2ku (absolute), Windows separators
    /// turned into '/'; each tried relative to the child's directory; then the stored parent name.
    /// </summary>
    private static string FindParent(SafeFileHandle file, string path, VpcDynamicHeader dyn, long length)
    {
        var candidates = new List<string>();
        foreach (uint code in new[] { VpcDynamicHeader.PlatformW2ru, VpcDynamicHeader.PlatformW2ku })
        {
            for (int i = 0; i < VpcDynamicHeader.ParentLocatorCount; i++)
            {
                VpcParentLocator loc = dyn.Locator(i);
                if (loc.PlatformCode != code)
                {
                    continue;
                }
                if (loc.DataLength <= 0 || loc.DataLength > MaxLocatorBytes || loc.DataOffset < 0 || loc.DataOffset > length - loc.DataLength)
                {
                    throw new ImageException(ImageErrorKind.InvalidField, path, $"parent locator {i}", $"{loc.DataLength} bytes at {loc.DataOffset} lie outside the {length}-byte file or exceed {MaxLocatorBytes} bytes");
                }
                byte[] raw = new byte[loc.DataLength];
                HostFile.ReadFull(file, raw, loc.DataOffset);
                string name = System.Text.Encoding.Unicode.GetString(raw).TrimEnd('\0').Replace('\\', '/');
                if (name.StartsWith("./", StringComparison.Ordinal))
                {
                    name = name[2..];
                }
                candidates.Add(name);
            }
        }
        string stored = dyn.ParentName.Replace('\\', '/');
        if (stored.Length > 0)
        {
            candidates.Add(stored);
        }
        foreach (string name in candidates)
        {
            if (name.Length == 0 || name.Contains('\0', StringComparison.Ordinal))
            {
                continue;
            }
            string full = BackingPath.Resolve(path, name);
            if (File.Exists(full))
            {
                return full;
            }
            string sibling = BackingPath.Resolve(path, Path.GetFileName(name));
            if (File.Exists(sibling))
            {
                return sibling;
            }
        }
        throw new ImageException(ImageErrorKind.BackingChain, path, "parent locator",
            candidates.Count == 0 ? "differencing disk has no usable parent locator" : $"parent '{candidates[0]}' does not exist");
    }
}
