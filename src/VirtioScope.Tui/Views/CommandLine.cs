using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace VirtioScope.Tui.Views;

/// <summary>
/// The ':' command line both debugger windows share: a prompt and a text field on the second line from the bottom,
/// hidden until opened, handing the typed line to a callback on Enter.
/// </summary>
public sealed class CommandLine
{
    private readonly Action<string> _run;

    /// <summary>Builds a closed command line that passes entered lines to <paramref name="run"/>.</summary>
    public CommandLine(Action<string> run)
    {
        _run = run ?? throw new ArgumentNullException(nameof(run));
        Prompt.Y = Pos.AnchorEnd(2);
        Field.Y = Pos.AnchorEnd(2);
    }

    /// <summary>The ':' in front of the field; add it to the window.</summary>
    public Label Prompt { get; } = new() { X = 0, Width = 1, Height = 1, Text = ":", Visible = false };

    /// <summary>The text field; add it to the window.</summary>
    public TextField Field { get; } = new() { X = 1, Width = Dim.Fill(), Height = 1, Visible = false };

    /// <summary>Whether the line is open and takes the keys.</summary>
    public bool IsOpen => Field.Visible;

    /// <summary>Shows the line holding <paramref name="text"/>, cursor at its end, and focuses it.</summary>
    public void Open(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        Prompt.Visible = true;
        Field.Visible = true;
        Field.Text = text;
        Field.SetFocus();
        // Focusing a text field selects its text, and the first key typed would replace the "break " it was opened with.
        Field.ClearAllSelection();
        Field.InsertionPoint = text.Length;
    }

    /// <summary>Hides and empties the line.</summary>
    public void Close()
    {
        Field.Visible = false;
        Prompt.Visible = false;
        Field.Text = "";
    }

    /// <summary>While open: Enter runs the line, Esc drops it; returns whether the key was the line's to act on.</summary>
    public bool HandleKey(Key key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key == Key.Enter)
        {
            string line = Field.Text;
            Close();
            _run(line);
            return true;
        }
        if (key == Key.Esc)
        {
            Close();
            return true;
        }
        return false;
    }
}
