//! Drawing: functions over `&App` (and the conversation pane's render cache). Nothing here
//! handles a key or changes the app's state.

pub mod branches;
pub mod color;
pub mod compare;
pub mod conversation;
pub mod custody;
pub mod inspector;
pub mod layout;
pub mod local;
pub mod logprobs;
pub mod markdown;
pub mod overlays;
pub mod panels;
pub mod params;
pub mod sessions;
pub mod theme;
pub mod widgets;
