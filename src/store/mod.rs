//! Transcripts on disk.
