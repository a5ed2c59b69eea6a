//! Colours and text attributes: a dark and a light palette, colours by role from the
//! config's `[theme]` table over them, and every colour brought to the terminal's depth.

use std::collections::BTreeMap;

use ratatui::style::{Color, Modifier, Style};

use crate::config::Role;
use crate::ui::color::{ColorDepth, adapt_style};

/// Which palette a theme is built on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ThemeKind {
    /// For dark backgrounds: the 16 ANSI colours, so it follows the terminal's palette.
    #[default]
    Dark,
    /// For light (white) backgrounds: dark, saturated colours.
    Light,
}

/// Every style the UI draws with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Theme {
    /// The palette it was built on.
    pub kind: ThemeKind,
    /// How many colours the terminal shows (syntax highlighting is mapped to it too).
    pub depth: ColorDepth,
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
    /// The token tint (`/logprobs color`) and the token view's probabilities, by band:
    /// ≥ 90 %, ≥ 50 %, ≥ 10 %, below.
    pub prob: [Style; 4],
}

impl Default for Theme {
    /// The dark palette, 24-bit colours.
    fn default() -> Self {
        Self::dark()
    }
}

impl Theme {
    /// For dark backgrounds. Uses the 16 ANSI colours, so it follows the terminal's palette.
    pub fn dark() -> Self {
        Self {
            kind: ThemeKind::Dark,
            depth: ColorDepth::TrueColor,
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
            prob: [
                Style::new().fg(Color::Green),
                Style::new().fg(Color::Yellow),
                Style::new().fg(Color::Magenta),
                Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            ],
        }
    }

    /// For light backgrounds: dark, saturated colours that read on white (brought to the
    /// terminal's depth by [`Theme::for_depth`]).
    pub fn light() -> Self {
        let rgb = |hex: u32| {
            let [_, r, g, b] = hex.to_be_bytes();
            Color::Rgb(r, g, b)
        };
        Self {
            kind: ThemeKind::Light,
            depth: ColorDepth::TrueColor,
            user: Style::new().fg(rgb(0x1a7f37)).add_modifier(Modifier::BOLD),
            assistant: Style::new().fg(rgb(0x0550ae)).add_modifier(Modifier::BOLD),
            system: Style::new().fg(rgb(0x8250df)).add_modifier(Modifier::BOLD),
            summary: Style::new().fg(rgb(0x953800)).add_modifier(Modifier::BOLD),
            heading: Style::new().fg(rgb(0x0a3069)).add_modifier(Modifier::BOLD),
            code: Style::new().fg(rgb(0x953800)),
            code_bg: Style::new().bg(Color::Reset),
            quote: Style::new()
                .fg(rgb(0x57606a))
                .add_modifier(Modifier::ITALIC),
            link: Style::new()
                .fg(rgb(0x0969da))
                .add_modifier(Modifier::UNDERLINED),
            dim: Style::new().fg(rgb(0x6e7781)),
            error: Style::new().fg(rgb(0xcf222e)).add_modifier(Modifier::BOLD),
            warning: Style::new().fg(rgb(0x9a6700)),
            ok: Style::new().fg(rgb(0x1a7f37)),
            accent: Style::new().fg(rgb(0x8250df)),
            border: Style::new().fg(rgb(0x8c959f)),
            border_focused: Style::new().fg(rgb(0x0969da)),
            selection: Style::new().add_modifier(Modifier::REVERSED),
            selected_text: Style::new().fg(Color::Black).bg(rgb(0xb6e3ff)),
            prob: [
                Style::new().fg(rgb(0x1a7f37)),
                Style::new().fg(rgb(0x9a6700)),
                Style::new().fg(rgb(0x8250df)),
                Style::new().fg(rgb(0xcf222e)).add_modifier(Modifier::BOLD),
            ],
        }
    }

    /// The palette for `kind`.
    pub fn of(kind: ThemeKind) -> Self {
        match kind {
            ThemeKind::Dark => Self::dark(),
            ThemeKind::Light => Self::light(),
        }
    }

    /// The palette with the config's colours by role over it: a text role's colour is its
    /// foreground (keeping bold, italic…); `code_background` and `selection` are
    /// backgrounds.
    pub fn with_colors(mut self, colors: &BTreeMap<Role, Color>) -> Self {
        for (role, c) in colors {
            let fg = |s: Style| s.remove_modifier(Modifier::DIM).fg(*c);
            match role {
                Role::User => self.user = fg(self.user),
                Role::Assistant => self.assistant = fg(self.assistant),
                Role::System => self.system = fg(self.system),
                Role::Summary => self.summary = fg(self.summary),
                Role::Heading => self.heading = fg(self.heading),
                Role::Code => self.code = fg(self.code),
                Role::CodeBackground => self.code_bg = Style::new().bg(*c),
                Role::Quote => self.quote = fg(self.quote),
                Role::Link => self.link = fg(self.link),
                Role::Dim => self.dim = fg(self.dim),
                Role::Error => self.error = fg(self.error),
                Role::Warning => self.warning = fg(self.warning),
                Role::Ok => self.ok = fg(self.ok),
                Role::Accent => self.accent = fg(self.accent),
                Role::Border => self.border = fg(self.border),
                Role::BorderFocused => self.border_focused = fg(self.border_focused),
                Role::Selection => self.selection = Style::new().bg(*c),
            }
        }
        self
    }

    /// Every colour as a terminal of `depth` shows it (24-bit colours only where it says
    /// it can).
    pub fn for_depth(mut self, depth: ColorDepth) -> Self {
        let light = self.kind == ThemeKind::Light;
        for s in [
            &mut self.user,
            &mut self.assistant,
            &mut self.system,
            &mut self.summary,
            &mut self.heading,
            &mut self.code,
            &mut self.code_bg,
            &mut self.quote,
            &mut self.link,
            &mut self.dim,
            &mut self.error,
            &mut self.warning,
            &mut self.ok,
            &mut self.accent,
            &mut self.border,
            &mut self.border_focused,
            &mut self.selection,
            &mut self.selected_text,
        ] {
            *s = adapt_style(*s, depth, light);
        }
        for s in &mut self.prob {
            *s = adapt_style(*s, depth, light);
        }
        self.depth = depth;
        self
    }

    /// The syntect theme used to highlight code blocks.
    pub fn syntect_theme_name(&self) -> &'static str {
        match self.kind {
            ThemeKind::Dark => "base16-ocean.dark",
            ThemeKind::Light => "InspiredGitHub",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_override_the_palette() {
        let mut colors = BTreeMap::new();
        colors.insert(Role::User, Color::Rgb(1, 2, 3));
        colors.insert(Role::Dim, Color::Indexed(245));
        colors.insert(Role::Selection, Color::Blue);
        colors.insert(Role::CodeBackground, Color::Rgb(0xf6, 0xf8, 0xfa));
        let t = Theme::dark().with_colors(&colors);
        assert_eq!(t.user.fg, Some(Color::Rgb(1, 2, 3)));
        assert!(t.user.add_modifier.contains(Modifier::BOLD));
        assert_eq!(t.dim.fg, Some(Color::Indexed(245)));
        assert!(!t.dim.add_modifier.contains(Modifier::DIM));
        assert_eq!(t.selection, Style::new().bg(Color::Blue));
        assert_eq!(t.code_bg.bg, Some(Color::Rgb(0xf6, 0xf8, 0xfa)));
        // …and are brought to the depth like the rest.
        let t = t.for_depth(ColorDepth::Ansi256);
        assert!(matches!(t.user.fg, Some(Color::Indexed(_))));
        assert!(matches!(t.code_bg.bg, Some(Color::Indexed(_))));
    }

    #[test]
    fn the_light_theme_uses_no_colour_that_vanishes_on_white() {
        for depth in [
            ColorDepth::TrueColor,
            ColorDepth::Ansi256,
            ColorDepth::Ansi16,
        ] {
            let t = Theme::light().for_depth(depth);
            for s in [
                t.user,
                t.assistant,
                t.system,
                t.summary,
                t.heading,
                t.code,
                t.quote,
                t.link,
                t.dim,
                t.error,
                t.warning,
                t.ok,
                t.accent,
                t.border_focused,
            ] {
                let fg = s.fg.unwrap_or(Color::Reset);
                assert!(
                    !matches!(
                        fg,
                        Color::White
                            | Color::Gray
                            | Color::Yellow
                            | Color::LightYellow
                            | Color::LightCyan
                            | Color::LightGreen
                    ),
                    "{depth:?}: {fg:?}"
                );
                if let Color::Rgb(r, g, b) = fg {
                    let lum = 0.2126 * f64::from(r) + 0.7152 * f64::from(g) + 0.0722 * f64::from(b);
                    assert!(
                        lum < 140.0,
                        "{depth:?}: {fg:?} is too light for a white background"
                    );
                }
            }
        }
    }
}
