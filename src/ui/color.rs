//! Colour depth: 24-bit colours only where the terminal says it shows them (`COLORTERM`),
//! otherwise the nearest of the 256-colour palette, or of the 16 ANSI colours. The 16 are
//! the terminal's own (its palette may differ from xterm's), so on a light background the
//! ones that are hard to read there (yellow, white, the light variants) are never chosen.
//!
//! `NO_COLOR` is honoured by the terminal backend (crossterm writes no colour at all).

use ratatui::style::{Color, Style};

/// How many colours the terminal shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ColorDepth {
    /// 24-bit RGB (`COLORTERM=truecolor` or `24bit`).
    #[default]
    TrueColor,
    /// The xterm 256-colour palette (`TERM=…-256color`).
    Ansi256,
    /// The 16 ANSI colours.
    Ansi16,
}

impl ColorDepth {
    /// From `COLORTERM` and `TERM`.
    pub fn detect(colorterm: Option<&str>, term: Option<&str>) -> ColorDepth {
        let ct = colorterm.unwrap_or("").trim().to_ascii_lowercase();
        if ct == "truecolor" || ct == "24bit" {
            return ColorDepth::TrueColor;
        }
        let term = term.unwrap_or("").to_ascii_lowercase();
        if term.contains("256color") || term.contains("direct") {
            ColorDepth::Ansi256
        } else {
            ColorDepth::Ansi16
        }
    }

    /// From the process environment.
    pub fn from_env() -> ColorDepth {
        ColorDepth::detect(
            std::env::var("COLORTERM").ok().as_deref(),
            std::env::var("TERM").ok().as_deref(),
        )
    }
}

/// xterm's default RGB for the 16 ANSI colours (the reference for "nearest").
const ANSI16: [(Color, (u8, u8, u8)); 16] = [
    (Color::Black, (0, 0, 0)),
    (Color::Red, (205, 0, 0)),
    (Color::Green, (0, 205, 0)),
    (Color::Yellow, (205, 205, 0)),
    (Color::Blue, (0, 0, 238)),
    (Color::Magenta, (205, 0, 205)),
    (Color::Cyan, (0, 205, 205)),
    (Color::Gray, (229, 229, 229)),
    (Color::DarkGray, (127, 127, 127)),
    (Color::LightRed, (255, 0, 0)),
    (Color::LightGreen, (0, 255, 0)),
    (Color::LightYellow, (255, 255, 0)),
    (Color::LightBlue, (92, 92, 255)),
    (Color::LightMagenta, (255, 0, 255)),
    (Color::LightCyan, (0, 255, 255)),
    (Color::White, (255, 255, 255)),
];

/// Readable as text on a light background (whatever the palette: yellow, cyan, white and
/// the light variants are pale in most).
fn on_light(c: Color) -> bool {
    matches!(
        c,
        Color::Black | Color::Red | Color::Green | Color::Blue | Color::Magenta | Color::DarkGray
    )
}

/// Relative luminance (WCAG 2) of an RGB colour.
pub fn luminance((r, g, b): (u8, u8, u8)) -> f64 {
    let lin = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

/// Contrast ratio (WCAG 2) of a colour against white.
pub fn contrast_on_white(rgb: (u8, u8, u8)) -> f64 {
    1.05 / (luminance(rgb) + 0.05)
}

/// `rgb`, darkened (hue kept) until it has at least `ratio` contrast against white: for
/// syntax colours on a light background (pale comment grays).
pub fn darken_for_white(rgb: (u8, u8, u8), ratio: f64) -> (u8, u8, u8) {
    let mut c = rgb;
    for _ in 0..40 {
        if contrast_on_white(c) >= ratio {
            break;
        }
        let d = |v: u8| (f64::from(v) * 0.92).floor() as u8;
        c = (d(c.0), d(c.1), d(c.2));
    }
    c
}

/// Readable as text on a dark background.
fn on_dark(c: Color) -> bool {
    !matches!(c, Color::Black | Color::Blue | Color::DarkGray)
}

/// A perceptual distance between two colours ("redmean").
fn distance(a: (u8, u8, u8), b: (u8, u8, u8)) -> u32 {
    let rm = (u32::from(a.0) + u32::from(b.0)) / 2;
    let dr = i32::from(a.0) - i32::from(b.0);
    let dg = i32::from(a.1) - i32::from(b.1);
    let db = i32::from(a.2) - i32::from(b.2);
    let (dr, dg, db) = (dr.unsigned_abs(), dg.unsigned_abs(), db.unsigned_abs());
    (((512 + rm) * dr * dr) >> 8) + 4 * dg * dg + (((767 - rm) * db * db) >> 8)
}

/// The nearest of the 16 ANSI colours that reads well on the background.
pub fn nearest_ansi16(rgb: (u8, u8, u8), light_background: bool) -> Color {
    ANSI16
        .iter()
        .filter(|(c, _)| {
            if light_background {
                on_light(*c)
            } else {
                on_dark(*c)
            }
        })
        .min_by_key(|(_, v)| distance(rgb, *v))
        .map_or(Color::Reset, |(c, _)| *c)
}

/// The levels of the 256-colour palette's 6×6×6 cube.
const CUBE: [u8; 6] = [0, 95, 135, 175, 215, 255];

/// CIE L*a*b* of an sRGB colour (D65): distances in it follow what the eye sees far better
/// than distances in RGB (a navy stays blue instead of turning teal).
fn lab((r, g, b): (u8, u8, u8)) -> [f64; 3] {
    let lin = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let (r, g, b) = (lin(r), lin(g), lin(b));
    let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.950_47;
    let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.088_83;
    let f = |t: f64| {
        if t > 0.008_856 {
            t.cbrt()
        } else {
            7.787 * t + 16.0 / 116.0
        }
    };
    let (fx, fy, fz) = (f(x), f(y), f(z));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// L*a*b* of the palette entries 16..=255 (the 16 first depend on the terminal).
fn palette_lab() -> &'static [[f64; 3]; 240] {
    static LAB: std::sync::OnceLock<[[f64; 3]; 240]> = std::sync::OnceLock::new();
    LAB.get_or_init(|| {
        let mut out = [[0.0; 3]; 240];
        for (k, slot) in out.iter_mut().enumerate() {
            *slot = lab(ansi256_rgb(u8::try_from(16 + k).unwrap_or(255)));
        }
        out
    })
}

/// The nearest colour of the 256-colour palette, as the eye judges it (the cube or the
/// gray ramp; never the 16 first, whose values depend on the terminal).
pub fn nearest_ansi256(rgb: (u8, u8, u8)) -> u8 {
    thread_local! {
        /// The answers so far: a syntax theme has a few dozen colours, asked for once per
        /// highlighted token (the long chat's first screen asked ~20,000 times).
        static SEEN: std::cell::RefCell<std::collections::HashMap<(u8, u8, u8), u8>> =
            std::cell::RefCell::default();
    }
    SEEN.with_borrow_mut(|seen| {
        if let Some(&i) = seen.get(&rgb) {
            return i;
        }
        if seen.len() >= 4096 {
            seen.clear();
        }
        let i = search_ansi256(rgb);
        seen.insert(rgb, i);
        i
    })
}

/// [`nearest_ansi256`] without the memory of earlier answers: a search of the palette.
fn search_ansi256(rgb: (u8, u8, u8)) -> u8 {
    let q = lab(rgb);
    let d = |p: &[f64; 3]| (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2);
    palette_lab()
        .iter()
        .enumerate()
        .min_by(|a, b| d(a.1).total_cmp(&d(b.1)))
        .and_then(|(k, _)| u8::try_from(16 + k).ok())
        .unwrap_or(231)
}

/// The RGB of a 256-colour palette entry (xterm's values).
pub fn ansi256_rgb(i: u8) -> (u8, u8, u8) {
    match i {
        0..=15 => ANSI16[usize::from(i)].1,
        16..=231 => {
            let n = usize::from(i - 16);
            (CUBE[n / 36], CUBE[(n / 6) % 6], CUBE[n % 6])
        }
        _ => {
            let g = 8 + 10 * (i - 232);
            (g, g, g)
        }
    }
}

/// `c` as the terminal can show it.
pub fn adapt(c: Color, depth: ColorDepth, light_background: bool) -> Color {
    match (c, depth) {
        (Color::Rgb(r, g, b), ColorDepth::Ansi256) => Color::Indexed(nearest_ansi256((r, g, b))),
        (Color::Rgb(r, g, b), ColorDepth::Ansi16) => nearest_ansi16((r, g, b), light_background),
        (Color::Indexed(i), ColorDepth::Ansi16) if i >= 16 => {
            nearest_ansi16(ansi256_rgb(i), light_background)
        }
        (Color::Indexed(i), ColorDepth::Ansi16) => ANSI16[usize::from(i)].0,
        _ => c,
    }
}

/// Every colour of `s` as the terminal can show it.
pub fn adapt_style(s: Style, depth: ColorDepth, light_background: bool) -> Style {
    if depth == ColorDepth::TrueColor {
        return s;
    }
    let mut out = s;
    out.fg = s.fg.map(|c| adapt(c, depth, light_background));
    out.bg = s.bg.map(|c| adapt(c, depth, light_background));
    out.underline_color = s.underline_color.map(|c| adapt(c, depth, light_background));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_comes_from_colorterm_then_term() {
        use ColorDepth::*;
        assert_eq!(
            ColorDepth::detect(Some("truecolor"), Some("xterm")),
            TrueColor
        );
        assert_eq!(ColorDepth::detect(Some("24bit"), None), TrueColor);
        assert_eq!(ColorDepth::detect(None, Some("xterm-256color")), Ansi256);
        assert_eq!(
            ColorDepth::detect(Some("yes"), Some("screen-256color")),
            Ansi256
        );
        assert_eq!(ColorDepth::detect(None, Some("xterm")), Ansi16);
        assert_eq!(ColorDepth::detect(None, Some("linux")), Ansi16);
        assert_eq!(ColorDepth::detect(None, None), Ansi16);
    }

    #[test]
    fn rgb_maps_to_the_nearest_256_colour() {
        assert_eq!(nearest_ansi256((0, 0, 0)), 16);
        assert_eq!(nearest_ansi256((255, 255, 255)), 231);
        assert_eq!(nearest_ansi256((0x5f, 0x87, 0xaf)), 67);
        // A gray goes to the ramp.
        assert_eq!(nearest_ansi256((128, 128, 128)), 244);
        // A navy stays a dark blue (per-channel rounding would make it teal, 23).
        let navy = ansi256_rgb(nearest_ansi256((0x0a, 0x30, 0x69)));
        assert!(navy.2 > navy.1 && navy.2 > navy.0, "{navy:?}");
        for i in 16..=255u8 {
            let (r, g, b) = ansi256_rgb(i);
            assert_eq!(ansi256_rgb(nearest_ansi256((r, g, b))), (r, g, b), "{i}");
        }
    }

    #[test]
    fn remembered_answers_equal_the_search() {
        // Every colour twice (asked, then remembered), past the memory's size limit.
        for round in 0..2 {
            for n in 0..6000u32 {
                let rgb = ((n * 37 % 256) as u8, (n * 101 % 256) as u8, (n % 256) as u8);
                assert_eq!(nearest_ansi256(rgb), search_ansi256(rgb), "{rgb:?} {round}");
            }
        }
    }

    #[test]
    fn sixteen_colours_stay_readable_on_the_background() {
        // A dark yellow reads on black as yellow; on white it becomes something darker.
        let olive = (0x9a, 0x67, 0x00);
        assert_eq!(nearest_ansi16(olive, false), Color::Yellow);
        let on_white = nearest_ansi16(olive, true);
        assert!(on_light(on_white), "{on_white:?}");
        // Pure colours map to themselves.
        assert_eq!(nearest_ansi16((205, 0, 0), true), Color::Red);
        assert_eq!(nearest_ansi16((0, 0, 238), true), Color::Blue);
        // A near-white never becomes white text on a light background.
        assert_ne!(nearest_ansi16((250, 250, 250), true), Color::White);
    }

    #[test]
    fn pale_colours_are_darkened_for_white() {
        let comment = (0x96, 0x98, 0x96);
        assert!(contrast_on_white(comment) < 3.0);
        let d = darken_for_white(comment, 4.5);
        assert!(contrast_on_white(d) >= 4.5, "{d:?}");
        assert!(d.0 <= d.1 && d.2 <= d.1, "a gray stays gray: {d:?}");
        let dark = (0x0a, 0x30, 0x69);
        assert_eq!(darken_for_white(dark, 4.5), dark);
    }

    #[test]
    fn styles_keep_named_colours_and_modifiers() {
        use ratatui::style::Modifier;
        let s = Style::new()
            .fg(Color::Rgb(0x1a, 0x7f, 0x37))
            .bg(Color::Cyan)
            .add_modifier(Modifier::BOLD);
        let a = adapt_style(s, ColorDepth::Ansi256, true);
        assert!(matches!(a.fg, Some(Color::Indexed(_))));
        assert_eq!(a.bg, Some(Color::Cyan));
        assert!(a.add_modifier.contains(Modifier::BOLD));
        let a = adapt_style(s, ColorDepth::Ansi16, true);
        assert_eq!(a.fg, Some(Color::Green));
        assert_eq!(adapt_style(s, ColorDepth::TrueColor, true), s);
        assert_eq!(
            adapt(Color::Indexed(208), ColorDepth::Ansi16, false),
            Color::Yellow
        );
    }
}
