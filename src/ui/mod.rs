//! Drawing.

pub mod history;
pub mod layout;
pub mod markdown;
pub mod overlays;
pub mod panels;
pub mod params;
/// The sanitizer moved to [`crate::text`]; this alias keeps `crate::ui::sanitize::sanitize`
/// resolving for `markdown.rs` and `history.rs` until their split lands. Remove it then.
pub use crate::text::sanitize;
pub mod sessions;
pub mod theme;
