//! The config reader: any text parses or fails with a message naming the file; what parses
//! merges without panicking.
#![no_main]

use std::path::{Path, PathBuf};

use chat_tui::config::{self, Env, Overrides};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/fuzz/config.toml");
    match config::parse_file(path, text) {
        Ok(file) => {
            let _ = config::merge(
                Some(PathBuf::from(path)),
                file,
                &Env::default(),
                &Overrides::default(),
                Vec::new(),
            );
        }
        Err(e) => assert!(e.0.starts_with("/fuzz/config.toml"), "{}", e.0),
    }
});
