//! Lays out the BPE vocabularies of the four OpenAI encodings chat-tui counts with, in the
//! compact form `src/chat/tokenizer` reads in place (one byte arena, an offset per rank and
//! an open-addressing rank table), and the Unicode classes its pre-tokenizer needs.
//!
//! The vocabularies come from tiktoken-rs (a build dependency: it embeds OpenAI's
//! `.tiktoken` files, so nothing is downloaded); the classes from regex-syntax, the tables
//! tiktoken's regular expressions use. Both are checked against tiktoken-rs by the tests.

use std::fmt::Write as _;
use std::path::Path;

#[path = "src/chat/tokenizer/hash.rs"]
mod hash;

/// An encoding's name and how to load it.
type Encoding = (&'static str, fn() -> tiktoken_rs::CoreBPE);

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/chat/tokenizer/hash.rs");
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    let out = Path::new(&out);
    let encodings: [Encoding; 4] = [
        ("o200k_base", || tiktoken_rs::o200k_base().expect("o200k")),
        ("cl100k_base", || {
            tiktoken_rs::cl100k_base().expect("cl100k")
        }),
        ("p50k_base", || tiktoken_rs::p50k_base().expect("p50k")),
        ("r50k_base", || tiktoken_rs::r50k_base().expect("r50k")),
    ];
    for (name, load) in encodings {
        let bpe = load();
        let blob = layout(&tokens_of(&bpe));
        std::fs::write(out.join(format!("{name}.bpe")), blob).expect("write vocabulary");
    }
    std::fs::write(out.join("unicode_classes.rs"), classes()).expect("write classes");
    start_order(out);
}

/// The functions start-up runs, listed in `link/start-order.txt` (`scripts/start-order`
/// writes it from a profile of the start), are laid out together at the front of the
/// binary's code: the kernel maps code 64 KB at a time, and start-up scattered over the
/// whole `.text` made ~70 % of it resident (docs/benchmarks.md, "This round (branch
/// `start`)"). Most names go to lld's `--symbol-ordering-file` as they are; a name with a
/// `.llvm.NNN` suffix (a local function ThinLTO promoted: the number changes from build to
/// build) goes to a small linker script that collects its section whatever the number,
/// right before `.text`. Optimised builds only, and only when the linker takes the options
/// — tried first on a small program with the same rustc, target, linker and flags, so a
/// linker without them (GNU ld, an older toolchain, another platform) builds as before. A
/// name the build no longer has is skipped (`--no-warn-symbol-ordering`): a stale list
/// costs some of the gain, never the build. `CHAT_TUI_NO_START_ORDER=1` turns it off.
fn start_order(out: &Path) {
    const LIST: &str = "link/start-order.txt";
    println!("cargo:rerun-if-changed={LIST}");
    println!("cargo:rerun-if-env-changed=CHAT_TUI_NO_START_ORDER");
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    if env("OPT_LEVEL") == "0"
        || env("CARGO_CFG_TARGET_OS") != "linux"
        || !env("CHAT_TUI_NO_START_ORDER").is_empty()
    {
        return;
    }
    let Ok(list) = std::fs::read_to_string(Path::new(&env("CARGO_MANIFEST_DIR")).join(LIST)) else {
        return;
    };
    let mut exact = String::new();
    let mut script = String::from("SECTIONS\n{\n  .text.chat_tui_start : {\n");
    for name in list.lines().map(str::trim).filter(|n| !n.is_empty()) {
        match name.rsplit_once(".llvm.") {
            Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                // `.text.NAME.llvm.N`, or `.text.unlikely.NAME.llvm.N` for a cold one.
                let _ = writeln!(script, "    *(.text*.{base}.llvm.*)");
            }
            _ => {
                exact.push_str(name);
                exact.push('\n');
            }
        }
    }
    script.push_str("  }\n}\nINSERT BEFORE .text;\n");
    let (order, ld) = (out.join("start-order.txt"), out.join("start-order.ld"));
    if std::fs::write(&order, exact).is_err() || std::fs::write(&ld, script).is_err() {
        return;
    }
    let ordering = [
        format!("-Wl,--symbol-ordering-file={}", order.display()),
        "-Wl,--no-warn-symbol-ordering".to_string(),
    ];
    let with_script: Vec<String> = ordering
        .iter()
        .cloned()
        .chain([format!("-Wl,-T,{}", ld.display())])
        .collect();
    let args = if links_with(out, &with_script) {
        with_script
    } else if links_with(out, &ordering) {
        ordering.to_vec()
    } else {
        return;
    };
    for a in args {
        println!("cargo:rustc-link-arg-bins={a}");
    }
}

/// Whether a small program links with `args` added, built as this crate's binary will be.
fn links_with(out: &Path, args: &[String]) -> bool {
    let dir = out.join("start-order-probe");
    if std::fs::create_dir_all(&dir).is_err() {
        return false;
    }
    let src = dir.join("probe.rs");
    if std::fs::write(&src, "fn main() { println!(\"probe\"); }\n").is_err() {
        return false;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let mut cmd = std::process::Command::new(rustc);
    cmd.arg(&src)
        .arg("-o")
        .arg(dir.join("probe"))
        .arg("--crate-type=bin");
    if let Ok(target) = std::env::var("TARGET") {
        cmd.arg("--target").arg(target);
    }
    if let Ok(linker) = std::env::var("RUSTC_LINKER") {
        cmd.arg("-C").arg(format!("linker={linker}"));
    }
    // The flags cargo gives every crate (RUSTFLAGS, `build.rustflags`): they may choose
    // the linker.
    if let Ok(flags) = std::env::var("CARGO_ENCODED_RUSTFLAGS") {
        cmd.args(flags.split('\x1f').filter(|f| !f.is_empty()));
    }
    for a in args {
        cmd.arg("-C").arg(format!("link-arg={a}"));
    }
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    cmd.status().is_ok_and(|s| s.success())
}

/// Every ordinary token's bytes, indexed by rank (special tokens and gaps are empty).
fn tokens_of(bpe: &tiktoken_rs::CoreBPE) -> Vec<Vec<u8>> {
    let special: Vec<u32> = bpe
        .special_tokens()
        .iter()
        .flat_map(|s| bpe.encode_with_special_tokens(s))
        .collect();
    let mut tokens: Vec<Vec<u8>> = Vec::new();
    let mut misses = 0;
    let mut rank = 0u32;
    while misses < 4096 {
        match bpe.decode_bytes(&[rank]) {
            Ok(b) if !special.contains(&rank) => {
                tokens.resize(rank as usize, Vec::new());
                tokens.push(b);
                misses = 0;
            }
            _ => misses += 1,
        }
        rank += 1;
    }
    tokens
}

/// The blob: a header (ranks, table bits, rank bits, arena length), the offsets (ranks + 1),
/// the table, the arena; little-endian u32s.
fn layout(tokens: &[Vec<u8>]) -> Vec<u8> {
    let n = tokens.len();
    // Slots hold rank + 1 (0 is empty) in the low bits, a tag of the hash above them.
    let rank_bits = usize::BITS - n.leading_zeros();
    let mut table_bits = 1;
    while (1usize << table_bits) * 4 < n * 5 {
        table_bits += 1;
    }
    let size = 1usize << table_bits;
    let mut table = vec![0u32; size];
    let mut offsets = Vec::with_capacity(n + 1);
    let mut arena = Vec::new();
    for (rank, t) in tokens.iter().enumerate() {
        offsets.push(arena.len() as u32);
        arena.extend_from_slice(t);
        if t.is_empty() {
            continue;
        }
        let h = hash::hash(t);
        let tag = (h as u32) & (u32::MAX >> rank_bits);
        let mut i = (h >> (64 - table_bits)) as usize;
        while table[i] != 0 {
            i = (i + 1) & (size - 1);
        }
        table[i] = (tag << rank_bits) | (rank as u32 + 1);
    }
    offsets.push(arena.len() as u32);
    let mut blob = Vec::new();
    for v in [n as u32, table_bits, rank_bits, arena.len() as u32]
        .into_iter()
        .chain(offsets)
        .chain(table)
    {
        blob.extend_from_slice(&v.to_le_bytes());
    }
    blob.extend_from_slice(&arena);
    blob
}

/// Runs of code points with the same classes, as Rust source: `L`, `N`, `S` (`\s`),
/// `A` (`[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`) and `B` (`[\p{Ll}\p{Lm}\p{Lo}\p{M}]`).
fn classes() -> String {
    let mut bits = vec![0u8; 0x11_0000];
    for (bit, pat) in [
        (1u8, r"\p{L}"),
        (2, r"\p{N}"),
        (4, r"\s"),
        (8, r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]"),
        (16, r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]"),
    ] {
        let hir = regex_syntax::Parser::new()
            .parse(pat)
            .expect("a valid class");
        let regex_syntax::hir::HirKind::Class(regex_syntax::hir::Class::Unicode(class)) =
            hir.kind()
        else {
            panic!("{pat} is not a Unicode class");
        };
        for r in class.ranges() {
            for c in u32::from(r.start())..=u32::from(r.end()) {
                bits[c as usize] |= bit;
            }
        }
    }
    let mut starts = Vec::new();
    let mut values = Vec::new();
    for (c, &b) in bits.iter().enumerate() {
        if values.last() != Some(&b) {
            starts.push(c as u32);
            values.push(b);
        }
    }
    let mut s = String::from("// Generated by build.rs from regex-syntax's Unicode tables.\n");
    let _ = writeln!(
        s,
        "pub(super) static ASCII: [u8; 128] = {:?};",
        &bits[..128]
    );
    let _ = writeln!(
        s,
        "pub(super) static RUN_STARTS: [u32; {}] = {starts:?};",
        starts.len()
    );
    let _ = writeln!(
        s,
        "pub(super) static RUN_CLASSES: [u8; {}] = {values:?};",
        values.len()
    );
    s
}
