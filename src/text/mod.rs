//! Text handling shared by every output: the screen, Markdown export, headless output and
//! `chat-tui list`. Knows nothing of the terminal library.

pub mod code_blocks;
pub mod sanitize;

pub use sanitize::{Tabs, sanitize, sanitize_with};

/// A count with thousands separators: `1234567` → `1,234,567`.
pub fn thousands(n: impl Into<u64>) -> String {
    let digits = n.into().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_groups_by_three() {
        assert_eq!(super::thousands(0u64), "0");
        assert_eq!(super::thousands(999u64), "999");
        assert_eq!(super::thousands(1000u64), "1,000");
        assert_eq!(super::thousands(1234567u64), "1,234,567");
    }
}
