//! The conversation view.
