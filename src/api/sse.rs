//! SSE parsing.
