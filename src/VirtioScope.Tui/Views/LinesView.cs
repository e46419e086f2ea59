using Terminal.Gui.Drawing;
using Terminal.Gui.ViewBase;
using Attribute = Terminal.Gui.Drawing.Attribute;

namespace VirtioScope.Tui.Views;

/// <summary>A read-only pane of lines, some highlighted, scrolled so that a chosen line stays visible.</summary>
public sealed class LinesView : View
{
    private static readonly Attribute HighlightAttribute = new(ColorName16.Black, ColorName16.BrightYellow);
    private IReadOnlyList<PaneLine> _lines = [];

    /// <summary>The lines shown.</summary>
    public IReadOnlyList<PaneLine> Lines => _lines;

    /// <summary>First line drawn.</summary>
    public int TopLine { get; set; }

    /// <summary>Replaces the lines and redraws.</summary>
    public void SetLines(IReadOnlyList<PaneLine> lines, int keepVisible = 0)
    {
        ArgumentNullException.ThrowIfNull(lines);
        int height = Math.Max(1, Viewport.Height);
        int top = keepVisible >= height ? keepVisible - height + 1 : 0;
        if (top == TopLine && lines.SequenceEqual(_lines))
        {
            // Nothing to redraw: a redraw costs the whole pane's terminal output.
            return;
        }
        _lines = lines;
        TopLine = top;
        SetNeedsDraw();
    }

    /// <inheritdoc />
    protected override bool OnDrawingContent(DrawContext? context)
    {
        Attribute normal = GetAttributeForRole(VisualRole.Normal);
        int width = Viewport.Width;
        for (int row = 0; row < Viewport.Height; row++)
        {
            int i = TopLine + row;
            PaneLine line = i < _lines.Count ? _lines[i] : default;
            string text = line.Text ?? "";
            text = text.Length > width ? text[..width] : text.PadRight(width);
            SetAttribute(line.Highlight ? HighlightAttribute : normal);
            Move(0, row);
            AddStr(text);
        }
        SetAttribute(normal);
        return true;
    }
}
