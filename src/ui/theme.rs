//! Colours and text attributes.

use ratatui::style::{Color, Modifier, Style};

/// Every style the UI draws with. Uses the 16 ANSI colours, so it follows the terminal's
/// palette and stays readable on dark and light backgrounds alike.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Theme {
    /// The "You" label.
    pub user: Style,
    /// The "Assistant" label.
    pub assistant: Style,
    /// The "System" label.
    pub system: Style,
    /// The "Summary" label.
    pub summary: Style,
    /// Markdown headings.
    pub heading: Style,
    /// Inline code and unhighlighted code blocks.
    pub code: Style,
    /// Background of code blocks (`Color::Reset`: code blocks get a gutter instead).
    pub code_bg: Style,
    /// Block quote text and bars.
    pub quote: Style,
    /// Link text.
    pub link: Style,
    /// Secondary text: times, URLs, gutters.
    pub dim: Style,
    pub error: Style,
    pub warning: Style,
    pub ok: Style,
    /// Highlights: streaming marker, choice tab, new-lines indicator.
    pub accent: Style,
    pub border: Style,
    pub border_focused: Style,
    pub selection: Style,
    /// Text selected with the mouse.
    pub selected_text: Style,
}

impl Default for Theme {
    fn default() -> Self {
        Self {
            user: Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
            assistant: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            system: Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
            summary: Style::new().fg(Color::Blue).add_modifier(Modifier::BOLD),
            heading: Style::new().fg(Color::Blue).add_modifier(Modifier::BOLD),
            code: Style::new().fg(Color::Yellow),
            code_bg: Style::new().bg(Color::Reset),
            quote: Style::new().fg(Color::Gray).add_modifier(Modifier::ITALIC),
            link: Style::new()
                .fg(Color::Blue)
                .add_modifier(Modifier::UNDERLINED),
            dim: Style::new().add_modifier(Modifier::DIM),
            error: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            warning: Style::new().fg(Color::Yellow),
            ok: Style::new().fg(Color::Green),
            accent: Style::new().fg(Color::Magenta),
            border: Style::new().add_modifier(Modifier::DIM),
            border_focused: Style::new().fg(Color::Cyan),
            selection: Style::new().add_modifier(Modifier::REVERSED),
            selected_text: Style::new().fg(Color::Black).bg(Color::LightBlue),
        }
    }
}

impl Theme {
    /// The syntect theme used to highlight code blocks.
    pub fn syntect_theme_name(&self) -> &str {
        "base16-ocean.dark"
    }
}
