//! The transcript reader: any bytes parse or fail cleanly; what parses survives a round trip.
#![no_main]

use chat_tui::store::format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(conv) = format::parse(data) {
        let bytes = format::to_json(&conv);
        let again = format::parse(&bytes).expect("a written transcript parses");
        assert_eq!(format::to_json(&again), bytes, "round trip is stable");
    }
});
