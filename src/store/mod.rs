//! Transcripts on disk: the file format, crash-safe private writes, the library of saved
//! conversations and Markdown export. Knows nothing of the terminal.

pub mod export;
pub mod format;
pub mod library;
pub mod lock;
pub mod paths;
pub mod prompt_history;
pub mod save;

pub use export::to_markdown;
pub use format::{FORMAT_NAME, FORMAT_VERSION, FormatError, parse, repair, to_json};
pub use library::{Entry, INDEX_FILE, Library, LibraryError, SaveError, is_safe_id};
pub use save::{LoadError, ensure_private_dir, load, write_atomic};
