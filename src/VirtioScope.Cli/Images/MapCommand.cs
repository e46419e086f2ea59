using System.CommandLine;
using System.Globalization;
using System.Text;
using VirtioScope.Images;

namespace VirtioScope.Cli.Images;

/// <summary><c>map [-f FMT] [--output human|json] IMAGE</c>: qemu-img's allocation records through the backing chain.</summary>
internal static class MapCommand
{
    public static Command Create()
    {
        var format = new Option<string?>("-f") { Description = "Image format (detected when omitted)" };
        var output = new Option<string>("--output") { Description = "human or json", DefaultValueFactory = _ => "human" };
        output.AcceptOnlyFromAmong("human", "json");
        var image = new Argument<string>("IMAGE") { Description = "The image file" };
        var cmd = new Command("map", "Show where the image's data lives, layer by layer");
        cmd.Options.Add(format);
        cmd.Options.Add(output);
        cmd.Arguments.Add(image);
        cmd.SetAction(pr => CliSupport.Run(() =>
        {
            using IDiskImage img = CliSupport.Open(pr.GetValue(image)!, pr.GetValue(format), readOnly: true);
            bool json = pr.GetValue(output) == "json";
            var inv = CultureInfo.InvariantCulture;
            TextWriter o = Console.Out;
            if (json)
            {
                bool first = true;
                o.Write('[');
                foreach (MapRecord r in ImageMap.Map(img))
                {
                    var sb = new StringBuilder();
                    if (!first)
                    {
                        sb.Append(",\n");
                    }
                    first = false;
                    sb.Append(inv, $"{{ \"start\": {r.Start}, \"length\": {r.Length}, \"depth\": {r.Depth}, \"present\": {B(r.Present)}, \"zero\": {B(r.Zero)}, \"data\": {B(r.Data)}");
                    if (r.Offset is { } off)
                    {
                        sb.Append(inv, $", \"offset\": {off}");
                    }
                    sb.Append('}');
                    o.Write(sb.ToString());
                }
                o.Write("]\n");
            }
            else
            {
                o.WriteLine($"{"Offset",-16}{"Length",-16}{"Mapped to",-16}File");
                foreach (MapRecord r in ImageMap.Map(img))
                {
                    if (r.Data && r.Offset is { } off)
                    {
                        o.WriteLine(string.Create(inv, $"{Hex(r.Start),-16}{Hex(r.Length),-16}{Hex(off),-16}{r.File}"));
                    }
                }
            }
            return 0;
        }));
        return cmd;
    }

    private static string B(bool b) => b ? "true" : "false";

    private static string Hex(long v) => v == 0 ? "0" : "0x" + v.ToString("x", CultureInfo.InvariantCulture);
}
