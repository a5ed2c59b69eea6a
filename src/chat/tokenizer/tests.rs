//! The compact tokenizer against tiktoken-rs (the reference, a dev-dependency): the same
//! count on every text, for the four encodings.

use proptest::prelude::*;
use tiktoken_rs::CoreBPE;

use super::pieces::{A, B, L, N, S, class, fold};
use super::*;

fn pairs() -> [(Bpe, &'static CoreBPE, &'static str); 4] {
    [
        (Bpe::o200k(), tiktoken_rs::o200k_base_singleton(), "o200k"),
        (
            Bpe::cl100k(),
            tiktoken_rs::cl100k_base_singleton(),
            "cl100k",
        ),
        (Bpe::p50k(), tiktoken_rs::p50k_base_singleton(), "p50k"),
        (Bpe::r50k(), tiktoken_rs::r50k_base_singleton(), "r50k"),
    ]
}

fn corpus() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        "hello world",
        "Hello, World! How's it going? I'M FINE, THEY'RE here, we'll see, you'd've",
        "don'ſ it's IT'S it'S 'll 'LL 're 'Ve 'd 'D '",
        "海洋污染對哪個地區影響最大？如果希望讓連續的對答可以有連慣性，可以把之前的對話內容一併送回。",
        "日本語のテキストとカタカナ、ひらがな。한국어 텍스트도 있습니다.",
        "Emoji: 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ 🤖🤖🤖 and text",
        "<|endoftext|> and <|im_start|>user<|im_end|> <|fim_prefix|><|endofprompt|>",
        "numbers 1 12 123 1234 12345 3.14159 1,000,000 ١٢٣ ½ Ⅻ ²³",
        "   leading spaces and trailing   ",
        "tabs\tand\t\ttabs \t mixed\n\n\nnew lines\r\n\r\nwindows  \n  \n x",
        "path/to/file.rs // comment /* block */ https://example.com/a/b?c=d&e=f#g",
        "!!!\n\n/// doc\n//! inner\n///\n",
        "fn main() {\n    println!(\"hi {}\", x + 1);\n}\n",
        "def f(x):\n\treturn x ** 2  # square\n",
        "ÉCOLE école e\u{301}cole Ǆ ǅ ǆ ʰʲ ﬁ ß ẞ ΣΑΣ σας",
        "combining: a\u{300}\u{301}\u{302} \u{301}\u{301}x \u{301} ",
        "ZWJ\u{200d}and ZWSP\u{200b}between\u{feff}BOM \u{a0}nbsp\u{3000}ideo\u{2028}line\u{85}nel",
        "mixed CamelCaseWords and snake_case_words and SCREAMING_CASE",
        "email@example.com #hashtag @mention $100 €50 ¥1000 100% 2+2=4",
        "Ünïcödé ñ Ø å ø Привет мир Γειά σου κόσμε مرحبا بالعالم שלום עולם नमस्ते दुनिया",
        "a\r\nb\rc\nd \r \n e",
        " ' '' ''' 's 't",
        "x/\n/y\n/\r\n/",
        "   \n",
        "\n",
        " ",
        "a",
        "   x",
        "  !",
        " 123",
        "\t\t\tx",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(" ".repeat(5000));
    v.push(format!("{}x", " ".repeat(5000)));
    v.push(format!("x{}", " ".repeat(3000)));
    v.push("\n".repeat(3000));
    v.push(" \n".repeat(2000));
    v.push("1234567890".repeat(500));
    v.push("a".repeat(5000));
    v.push("ab".repeat(3000));
    v.push("🤖".repeat(1000));
    v.push("é".repeat(2000));
    v.push("漢字".repeat(1500));
    v.push("=".repeat(4000));
    v.push("-_".repeat(700));
    v.push(
        "TWFueSBoYW5kcyBtYWtlIGxpZ2h0IHdvcmsuIGJhc2U2NCBlbmNvZGVkIHRleHQgdGhhdCBpcyBsb25n"
            .repeat(20),
    );
    v.push(include_str!("../../../README.md").to_string());
    v.push(include_str!("mod.rs").to_string());
    v
}

#[test]
fn the_same_counts_as_tiktoken_on_the_corpus() {
    for (bpe, reference, name) in pairs() {
        for text in corpus() {
            assert_eq!(
                bpe.count(&text),
                reference.encode_ordinary(&text).len(),
                "{name} on {:?}",
                text.chars().take(80).collect::<String>()
            );
        }
    }
}

#[test]
fn tokens_round_trip_through_the_table() {
    for (bpe, reference, name) in pairs() {
        let mut seen = 0;
        for rank in 0..bpe.vocabulary_size() as u32 {
            let t = bpe.token(rank);
            if t.is_empty() {
                continue;
            }
            seen += 1;
            assert_eq!(bpe.rank(t), Some(rank), "{name} rank {rank}");
            assert_eq!(reference.decode_bytes(&[rank]).ok().as_deref(), Some(t));
        }
        assert!(seen > 50_000, "{name}: {seen} tokens");
        assert_eq!(
            bpe.rank(b"<|endoftext|>"),
            None,
            "{name}: specials are text"
        );
    }
}

#[test]
fn classes_are_regex_syntaxs() {
    let re = |p: &str| regex::Regex::new(&format!("^{p}$")).unwrap();
    let classes = [
        (L, re(r"\p{L}")),
        (N, re(r"\p{N}")),
        (S, re(r"\s")),
        (A, re(r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]")),
        (B, re(r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]")),
    ];
    let mut buf = [0u8; 4];
    for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
        let s = c.encode_utf8(&mut buf);
        let k = class(c);
        for (bit, re) in &classes {
            assert_eq!(k & bit != 0, re.is_match(s), "{c:?} U+{:04X}", c as u32);
        }
    }
}

#[test]
fn contraction_letters_fold_like_the_regex() {
    let letters = ['s', 't', 'r', 'e', 'v', 'm', 'l', 'd'];
    let any = regex::Regex::new("^(?i:[strevmld])$").unwrap();
    let mut buf = [0u8; 4];
    for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
        let s = c.encode_utf8(&mut buf);
        let ours = letters.contains(&fold(c));
        assert_eq!(ours, any.is_match(s), "{c:?}");
        if ours {
            let theirs = regex::Regex::new(&format!("^(?i:{})$", fold(c))).unwrap();
            assert!(theirs.is_match(s), "{c:?} folds to {}", fold(c));
        }
    }
}

/// Characters at the edges of every class the pre-tokenizers look at.
const ALPHABET: &[char] = &[
    'a', 'b', 'z', 'A', 'S', 's', 't', 'T', 'l', 'L', 'r', 'e', 'v', 'm', 'd', 'D', '\u{17F}',
    '\'', ' ', ' ', ' ', '\t', '\n', '\r', '\u{a0}', '\u{3000}', '\u{85}', '\u{2028}', '\u{200b}',
    '0', '7', '9', '½', '٣', 'Ⅻ', '.', ',', '!', '/', '-', '_', '(', '"', '#', 'é', 'É', 'ß', 'Ǆ',
    'ǅ', 'ǆ', 'ʰ', '漢', 'あ', 'ア', '한', '\u{301}', '\u{300}', '\u{20dd}', 'ः', '👍', '🏽',
    '\u{200d}', '🇫', '€', '∑', '\u{e000}', '\u{fffd}',
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_same_counts_as_tiktoken_on_any_text(
        picks in proptest::collection::vec(0..ALPHABET.len(), 0..60)
    ) {
        let text: String = picks.iter().map(|&i| ALPHABET[i]).collect();
        for (bpe, reference, name) in pairs() {
            prop_assert_eq!(
                bpe.count(&text),
                reference.encode_ordinary(&text).len(),
                "{} on {:?}", name, text
            );
        }
    }

    #[test]
    fn the_same_counts_as_tiktoken_on_any_string(text in "\\PC{0,80}") {
        for (bpe, reference, name) in pairs() {
            prop_assert_eq!(
                bpe.count(&text),
                reference.encode_ordinary(&text).len(),
                "{} on {:?}", name, text
            );
        }
    }
}
