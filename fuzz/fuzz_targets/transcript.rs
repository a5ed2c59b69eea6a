//! The transcript reader: any bytes are refused with an error or read; what is read writes
//! back and reads again to the same conversation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(conv) = chat_tui::store::parse(data) {
        let again = chat_tui::store::parse(&chat_tui::store::to_json(&conv))
            .expect("a transcript chat-tui wrote must read back");
        assert_eq!(again.messages.len(), conv.messages.len());
        assert_eq!(again.id, conv.id);
        let _ = chat_tui::store::to_markdown(&conv);
    }
});
