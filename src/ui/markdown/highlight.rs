//! Syntax highlighting with syntect: the syntax set, the themes, and a cache of
//! highlighted code blocks that lets a streaming block resume where it stopped.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use ratatui::style::{Color, Modifier, Style};
use syntect::easy::HighlightLines;
use syntect::highlighting::{FontStyle, HighlightState, ThemeSet};
use syntect::parsing::{ParseState, SyntaxReference, SyntaxSet};

use crate::ui::color::{ColorDepth, adapt, darken_for_white};
use crate::ui::theme::ThemeKind;

static SYNTAXES: OnceLock<SyntaxSet> = OnceLock::new();
static THEMES: OnceLock<ThemeSet> = OnceLock::new();

fn syntaxes() -> &'static SyntaxSet {
    SYNTAXES.get_or_init(SyntaxSet::load_defaults_newlines)
}

pub(super) fn themes() -> &'static ThemeSet {
    THEMES.get_or_init(ThemeSet::load_defaults)
}

/// Load the syntax definitions and highlighting themes now. The app does not: they load
/// when the first code block is drawn (the definitions' index, a few milliseconds; each
/// language's rules stay packed until a block of that language is highlighted). Benchmarks
/// call this to leave the loading out of their measure.
pub fn warm_up() {
    syntaxes();
    themes();
}

/// Highlight `samples` (language, code) on a thread of their own, for nothing but the
/// work: syntect compiles each language's regular expressions the first time a block of it
/// is highlighted (~15 ms for the Rust and Python of the long chat's last screen), so a
/// conversation being opened can have them compiled while its file is parsed, before its
/// first frame asks. Nothing is cached or drawn from this: the screen's own highlighting
/// (the same, deterministic) finds the compiled expressions and does the rest.
pub fn warm_code(samples: Vec<(String, String)>) {
    if samples.is_empty() {
        return;
    }
    let warm = move || {
        let ts = themes();
        let Some(theme) = ts.themes.values().next() else {
            return;
        };
        for (lang, code) in &samples {
            let Some(syntax) = find_syntax(lang) else {
                continue;
            };
            let mut hl = HighlightLines::new(syntax, theme);
            for line in code.split_inclusive('\n') {
                if hl.highlight_line(line, syntaxes()).is_err() {
                    break;
                }
            }
        }
    };
    // Without a thread the work is left to the first frame, as before. A panic in it (in
    // syntect, on text the screen may never show) ends the thread and nothing else: the
    // panic hook leaves the terminal alone for this thread.
    let _ = std::thread::Builder::new()
        .name(WARM_THREAD.into())
        .spawn(warm);
}

/// The name of [`warm_code`]'s thread.
pub const WARM_THREAD: &str = "highlight-warm";

/// Code blocks longer than this are not highlighted.
pub const MAX_HIGHLIGHT_BYTES: usize = 256 * 1024;
/// Code blocks with a line longer than this are not highlighted.
pub const MAX_HIGHLIGHT_LINE: usize = 4096;

/// One highlighted source line: (style, text) runs, without the newline.
type HlLine = Vec<(Style, String)>;

/// Where the last highlighted block stopped: a growing (streaming) block resumes here
/// instead of being highlighted again from its start.
struct Resume {
    key: (String, String),
    /// The complete lines highlighted so far (ends with `\n`).
    done: String,
    lines: Vec<HlLine>,
    state: (HighlightState, ParseState),
}

#[derive(Default)]
struct CodeCache {
    /// hash(theme, lang, body) → (lang, body, lines).
    map: HashMap<u64, (String, String, Arc<Vec<HlLine>>)>,
    bytes: usize,
}

thread_local! {
    /// Where the last block highlighted on this thread stopped. Kept per thread: with the
    /// Oniguruma engine syntect's parse state holds the C library's pointers (not `Send`).
    static RESUME: RefCell<Option<Resume>> = const { RefCell::new(None) };
}

/// Highlighted code blocks are kept up to this many bytes of source, then dropped.
const CODE_CACHE_BYTES: usize = 8 << 20;

static CODE_CACHE: OnceLock<Mutex<CodeCache>> = OnceLock::new();

fn code_cache() -> MutexGuard<'static, CodeCache> {
    CODE_CACHE
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Forget all highlighted code blocks (for benchmarks of cold rendering).
pub fn clear_highlight_cache() {
    *code_cache() = CodeCache::default();
    RESUME.with_borrow_mut(|r| *r = None);
}

/// Highlight a code block with the syntect theme that goes with `theme` (light or dark),
/// its colours brought to the terminal's depth.
pub(super) fn highlight_for(
    theme: &crate::ui::theme::Theme,
    syntax: &SyntaxReference,
    lang: &str,
    body: &str,
) -> Option<Arc<Vec<HlLine>>> {
    let ts = themes();
    let name = theme.syntect_theme_name();
    let st = ts.themes.get(name).or_else(|| ts.themes.values().next())?;
    let colors = Colors {
        depth: theme.depth,
        light: theme.kind == ThemeKind::Light,
    };
    highlight_block(syntax, st, name, colors, lang, body)
}

/// How syntect's RGB colours are shown: at the terminal's depth, for its background.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Colors {
    depth: ColorDepth,
    light: bool,
}

/// Highlight a code block (`body` as the parser gives it, with its newlines), reusing
/// earlier work: identical blocks come from the cache, and a block that grew by whole
/// lines since the last call resumes where that call stopped.
fn highlight_block(
    syntax: &SyntaxReference,
    theme: &syntect::highlighting::Theme,
    theme_name: &str,
    colors: Colors,
    lang: &str,
    body: &str,
) -> Option<Arc<Vec<HlLine>>> {
    let mut h = DefaultHasher::new();
    (theme_name, colors, lang, body).hash(&mut h);
    let key = h.finish();
    {
        let cache = code_cache();
        if let Some((l, b, lines)) = cache.map.get(&key)
            && l == lang
            && b == body
        {
            return Some(lines.clone());
        }
    }
    let resume = RESUME.with_borrow_mut(Option::take);
    let rkey = (format!("{theme_name} {colors:?}"), lang.to_string());
    let (mut lines, mut hl, start) = match resume {
        Some(r) if r.key == rkey && body.starts_with(&r.done) => {
            let (hs, ps) = r.state;
            (
                r.lines,
                HighlightLines::from_state(theme, hs, ps),
                r.done.len(),
            )
        }
        _ => (Vec::new(), HighlightLines::new(syntax, theme), 0),
    };
    let ss = syntaxes();
    let mut done = start;
    let mut saved = None;
    let mut buf = String::new();
    for src in body[start..].split_inclusive('\n') {
        let complete = src.ends_with('\n');
        if !complete {
            // Save the state before the unfinished last line, to resume from later.
            let (hs, ps) = hl.state();
            saved = Some((hs.clone(), ps.clone()));
            hl = HighlightLines::from_state(theme, hs, ps);
        }
        buf.clear();
        buf.push_str(src);
        if !complete {
            buf.push('\n');
        }
        let regions = hl.highlight_line(&buf, ss).ok()?;
        let line: HlLine = regions
            .into_iter()
            .filter_map(|(st, text)| {
                let text = text.strip_suffix('\n').unwrap_or(text);
                (!text.is_empty()).then(|| (syntect_style(st, colors), text.to_string()))
            })
            .collect();
        lines.push(line);
        if complete {
            done += src.len();
        }
    }
    let complete_lines = if saved.is_some() {
        lines.len() - 1
    } else {
        lines.len()
    };
    let state = saved.unwrap_or_else(|| hl.state());
    RESUME.with_borrow_mut(|r| {
        *r = Some(Resume {
            key: rkey,
            done: body[..done].to_string(),
            lines: lines[..complete_lines].to_vec(),
            state,
        })
    });
    let mut cache = code_cache();
    let lines = Arc::new(lines);
    if body.len() <= CODE_CACHE_BYTES / 8 {
        if cache.bytes + body.len() > CODE_CACHE_BYTES {
            cache.map.clear();
            cache.bytes = 0;
        }
        cache.bytes += body.len();
        cache
            .map
            .insert(key, (lang.to_string(), body.to_string(), lines.clone()));
    }
    Some(lines)
}

pub(super) fn find_syntax(lang: &str) -> Option<&'static SyntaxReference> {
    if lang.is_empty() {
        return None;
    }
    let ss = syntaxes();
    ss.find_syntax_by_token(lang)
        .or_else(|| ss.find_syntax_by_token(&lang.to_ascii_lowercase()))
}

fn syntect_style(s: syntect::highlighting::Style, colors: Colors) -> Style {
    let mut rgb = (s.foreground.r, s.foreground.g, s.foreground.b);
    if colors.light {
        // Light themes' comment grays are too pale to read on white.
        rgb = darken_for_white(rgb, 4.5);
    }
    let rgb = Color::Rgb(rgb.0, rgb.1, rgb.2);
    let mut style = Style::new().fg(adapt(rgb, colors.depth, colors.light));
    if s.font_style.contains(FontStyle::BOLD) {
        style = style.add_modifier(Modifier::BOLD);
    }
    if s.font_style.contains(FontStyle::ITALIC) {
        style = style.add_modifier(Modifier::ITALIC);
    }
    if s.font_style.contains(FontStyle::UNDERLINE) {
        style = style.add_modifier(Modifier::UNDERLINED);
    }
    style
}
