using System.CommandLine;
using VirtioScope.Images;

namespace VirtioScope.Cli.Images;

/// <summary><c>resize [-f FMT] [--shrink] IMAGE [+|-]SIZE</c> for raw and qcow2.</summary>
internal static class ResizeCommand
{
    public static Command Create()
    {
        var format = new Option<string?>("-f") { Description = "Image format (detected when omitted)" };
        var shrink = new Option<bool>("--shrink") { Description = "Allow making the image smaller" };
        var quiet = new Option<bool>("-q") { Description = "Print nothing" };
        var image = new Argument<string>("IMAGE") { Description = "The image file" };
        var size = new Argument<string>("SIZE") { Description = "New size, or +SIZE / -SIZE relative to the current one" };
        var cmd = new Command("resize", "Change an image's virtual size");
        cmd.Options.Add(format);
        cmd.Options.Add(shrink);
        cmd.Options.Add(quiet);
        cmd.Arguments.Add(image);
        cmd.Arguments.Add(size);
        cmd.SetAction(pr => CliSupport.Run(() =>
        {
            using IDiskImage img = CliSupport.Open(pr.GetValue(image)!, pr.GetValue(format), readOnly: false, openBacking: false);
            if (img is not IResizableImage resizable)
            {
                throw new ArgumentException($"{img.FilePath}: {img.Format.ToName()} images cannot be resized");
            }
            string text = pr.GetValue(size)!;
            long newSize = text[0] switch
            {
                '+' => img.VirtualSize + CliSupport.ParseSize(text[1..]),
                '-' => img.VirtualSize - CliSupport.ParseSize(text[1..]),
                _ => CliSupport.ParseSize(text),
            };
            if (newSize < 0)
            {
                throw new ArgumentException($"{img.FilePath}: new size would be negative");
            }
            resizable.Resize(newSize, pr.GetValue(shrink) ? ResizeMode.AllowShrink : ResizeMode.GrowOnly);
            if (!pr.GetValue(quiet))
            {
                Console.Out.WriteLine("Image resized.");
            }
            return 0;
        }));
        return cmd;
    }
}
