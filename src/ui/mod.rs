//! Drawing.

pub mod conversation;
pub mod layout;
pub mod markdown;
pub mod overlays;
pub mod panels;
pub mod params;
pub mod sanitize;
pub mod sessions;
pub mod theme;
pub mod widgets;
