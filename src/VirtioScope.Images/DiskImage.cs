using VirtioScope.Images.Qcow2;
using VirtioScope.Images.Raw;
using VirtioScope.Images.Vhdx;
using VirtioScope.Images.Vmdk;
using VirtioScope.Images.Vpc;

namespace VirtioScope.Images;

/// <summary>The one entry point: open any supported image by options, or create one.</summary>
public static class DiskImage
{
    /// <summary>
    /// Opens <paramref name="path"/>, detecting the format from its magic unless <see cref="ImageOpenOptions.Format"/>
    /// says otherwise, and opens its backing chain read-only (QEMU's relative path rules; loops and excessive depth refused).
    /// </summary>
    /// <exception cref="ImageException">The image is malformed, unsupported, or its backing chain is broken.</exception>
    /// <exception cref="IOException">The file cannot be opened.</exception>
    public static IDiskImage Open(string path, ImageOpenOptions? options = null)
    {
        options ??= new ImageOpenOptions();
        return OpenChain(path, options, [], 0);
    }

    private static IDiskImage OpenChain(string path, ImageOpenOptions options, HashSet<string> seen, int depth)
    {
        if (depth > options.MaxChainDepth)
        {
            throw new ImageException(ImageErrorKind.BackingChain, path, "backing file", $"backing chain is deeper than {options.MaxChainDepth}");
        }
        if (!File.Exists(path))
        {
            throw depth == 0
                ? new FileNotFoundException($"{path}: no such file", path)
                : new ImageException(ImageErrorKind.BackingChain, path, "backing file", "backing file does not exist");
        }
        string identity = Path.GetFullPath(ResolveLinks(path));
        if (!seen.Add(identity))
        {
            throw new ImageException(ImageErrorKind.BackingChain, path, "backing file", "backing chain contains a loop");
        }
        ImageFormat format = options.Format == ImageFormat.Auto ? FormatDetector.Detect(path) : options.Format;
        switch (format)
        {
            case ImageFormat.Raw:
                return RawImage.Open(path, readOnly: options.ReadOnly, cache: options.Cache);
            case ImageFormat.Qcow2:
                Func<string, ImageFormat, IDiskImage>? backing = options.OpenBacking
                    ? (file, fmt) => OpenChain(file, options with { Format = fmt, ReadOnly = true, AllowCorruptWrite = false }, seen, depth + 1)
                    : null;
                return Qcow2Image.Open(path, options, backing);
            case ImageFormat.Vpc:
                return VpcImage.Open(path, options.ReadOnly, options.ForCheck, options.OpenBacking
                    ? file => OpenChain(file, options with { Format = ImageFormat.Vpc, ReadOnly = true }, seen, depth + 1)
                    : null, options.Cache);
            case ImageFormat.Vmdk:
                return VmdkImage.Open(path, options.ReadOnly);
            case ImageFormat.Vhdx:
                return VhdxImage.Open(path, options.ReadOnly, options.ForCheck, options.OpenBacking
                    ? file => OpenChain(file, options with { Format = ImageFormat.Vhdx, ReadOnly = true }, seen, depth + 1)
                    : null, options.Cache);
            default:
                throw new ImageException(ImageErrorKind.UnsupportedFormat, path, "format", $"{format.ToName()} images are recognised but not supported yet");
        }
    }

    private static string ResolveLinks(string path)
    {
        FileSystemInfo? target = new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true);
        return target?.FullName ?? path;
    }

    /// <summary>Creates an image and returns it opened read-write.</summary>
    /// <exception cref="ImageException">An option is invalid or the backing file cannot be used.</exception>
    public static IDiskImage Create(string path, ImageCreateOptions options)
    {
        long? size = options.Size;
        ImageFormat backingFormat = options.BackingFormat;
        if (options.BackingFile is not null)
        {
            if (options.Format is not (ImageFormat.Qcow2 or ImageFormat.Vhdx or ImageFormat.Vpc))
            {
                throw new ImageException(ImageErrorKind.InvalidOption, path, "backing file", $"{options.Format.ToName()} images cannot have a backing file");
            }
            string full = BackingPath.Resolve(path, options.BackingFile);
            using IDiskImage backing = Open(full, new ImageOpenOptions { Format = backingFormat, ReadOnly = true });
            backingFormat = backing.Format;
            size ??= backing.VirtualSize;
            if (options.Format != ImageFormat.Qcow2)
            {
                // A differencing VHD or VHDX has exactly its parent's size, and the parent must be of the same format.
                if (backing.Format != options.Format)
                {
                    throw new ImageException(ImageErrorKind.InvalidOption, path, "backing file", $"the parent of a differencing {options.Format.ToName()} must be {options.Format.ToName()}, not {backing.Format.ToName()}");
                }
                if (size != backing.VirtualSize)
                {
                    throw new ImageException(ImageErrorKind.InvalidOption, path, "size", $"a differencing image has its parent's size ({backing.VirtualSize} bytes)");
                }
                if (backing is VhdxImage vhdxParent)
                {
                    VhdxImage.Create(path, options, size.Value, vhdxParent, options.BackingFile);
                }
                else
                {
                    VpcImage.CreateDifferencing(path, options, (VpcImage)backing, options.BackingFile);
                }
                return Open(path, new ImageOpenOptions { Format = options.Format, Cache = options.Cache });
            }
        }
        if (size is null)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, path, "size", "an image size is required");
        }
        if (size < 0)
        {
            throw new ImageException(ImageErrorKind.InvalidOption, path, "size", "must not be negative");
        }
        switch (options.Format)
        {
            case ImageFormat.Raw:
                return RawImage.Create(path, size.Value, options.Preallocation, options.Cache);
            case ImageFormat.Qcow2:
                Qcow2Image.Create(path, options, size.Value, backingFormat);
                var image = (Qcow2Image)Open(path, new ImageOpenOptions { Format = ImageFormat.Qcow2, Cache = options.Cache });
                try
                {
                    image.Preallocate(options.Preallocation);
                }
                catch
                {
                    image.Dispose();
                    throw;
                }
                return image;
            case ImageFormat.Vpc:
                VpcImage.Create(path, options, size.Value);
                return Open(path, new ImageOpenOptions { Format = ImageFormat.Vpc, Cache = options.Cache });
            case ImageFormat.Vmdk:
                return VmdkImage.Create(path, options, size.Value);
            case ImageFormat.Vhdx:
                VhdxImage.Create(path, options, size.Value);
                return Open(path, new ImageOpenOptions { Format = ImageFormat.Vhdx, Cache = options.Cache });
            default:
                throw new ImageException(ImageErrorKind.UnsupportedFormat, path, "format", $"creating {options.Format.ToName()} images is not supported");
        }
    }
}
