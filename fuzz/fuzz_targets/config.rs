//! The config reader: any text is refused with an error naming the file, or merged.
#![no_main]

use std::path::Path;

use chat_tui::config::{self, Env, Overrides};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.toml");
    match config::parse_file(path, text) {
        Ok(file) => {
            // api_key_cmd would run a command: keep the fuzzer from executing anything.
            if file.api_key_cmd.is_some() || file.profiles.values().any(|p| p.api_key_cmd.is_some()) {
                return;
            }
            let _ = config::merge(Some(path.into()), file, &Env::default(), &Overrides::default(), Vec::new());
        }
        Err(e) => assert!(e.0.starts_with("fuzz.toml"), "{e}"),
    }
});
