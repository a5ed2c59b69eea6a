//! Drawing.

pub mod history;
pub mod markdown;
pub mod sanitize;
pub mod theme;
