namespace VirtioScope.Tui.Views;

/// <summary>One line of a pane, optionally highlighted (a value the last step changed, a stop reason).</summary>
/// <param name="Text">The text.</param>
/// <param name="Highlight">Whether to draw it in the highlight colours.</param>
public readonly record struct PaneLine(string Text, bool Highlight = false);
