//! A compact BPE token counter for OpenAI's encodings that counts exactly what tiktoken
//! counts (`encode_ordinary`: special-token text is plain text), from tables laid out at
//! build time (`build.rs`) and read in place from the binary:
//!
//! - one byte arena with every token's bytes, in rank order, and an offset per rank;
//! - an open-addressing rank table (a `u32` a slot: rank + 1 and a tag of the hash);
//! - tiktoken's pre-tokenizer regular expressions as hand-written matchers
//!   ([`pieces`]) over the Unicode classes regex-syntax gives them.
//!
//! Nothing is built or copied at load time: o200k's tables are about 3 MB of the binary,
//! paged in as they are read (tiktoken-rs builds two hash maps of owned vectors, a sorted
//! copy and 256 compiled regular expressions: 40-50 MB). The merge loops are tiktoken's
//! own (`_byte_pair_merge` under 100 bytes, the heap for longer pieces), counting instead
//! of collecting.

mod hash;
mod pieces;

use std::collections::BinaryHeap;

pub use pieces::Pattern;

/// One encoding's tables, borrowed from the binary.
pub struct Bpe {
    pattern: Pattern,
    ranks: usize,
    table_bits: u32,
    rank_bits: u32,
    offsets: &'static [u8],
    table: &'static [u8],
    arena: &'static [u8],
}

/// The `i`th little-endian u32 of `b`.
#[inline]
fn u32_at(b: &[u8], i: usize) -> u32 {
    let s = &b[i * 4..i * 4 + 4];
    u32::from_le_bytes([s[0], s[1], s[2], s[3]])
}

impl Bpe {
    /// Read the tables of a blob written by `build.rs`.
    fn from_blob(blob: &'static [u8], pattern: Pattern) -> Self {
        let ranks = u32_at(blob, 0) as usize;
        let table_bits = u32_at(blob, 1);
        let rank_bits = u32_at(blob, 2);
        let offsets_at = 4 * 4;
        let table_at = offsets_at + (ranks + 1) * 4;
        let arena_at = table_at + (1usize << table_bits) * 4;
        Self {
            pattern,
            ranks,
            table_bits,
            rank_bits,
            offsets: &blob[offsets_at..table_at],
            table: &blob[table_at..arena_at],
            arena: &blob[arena_at..],
        }
    }

    pub fn o200k() -> Self {
        static BLOB: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/o200k_base.bpe"));
        Self::from_blob(BLOB, Pattern::O200k)
    }

    pub fn cl100k() -> Self {
        static BLOB: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/cl100k_base.bpe"));
        Self::from_blob(BLOB, Pattern::Cl100k)
    }

    pub fn p50k() -> Self {
        static BLOB: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/p50k_base.bpe"));
        Self::from_blob(BLOB, Pattern::R50k)
    }

    pub fn r50k() -> Self {
        static BLOB: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/r50k_base.bpe"));
        Self::from_blob(BLOB, Pattern::R50k)
    }

    /// How many ranks the vocabulary has (its largest ordinary rank + 1).
    pub fn vocabulary_size(&self) -> usize {
        self.ranks
    }

    /// The bytes of the token `rank` (empty for a special token or a gap).
    pub fn token(&self, rank: u32) -> &'static [u8] {
        let r = rank as usize;
        if r >= self.ranks {
            return &[];
        }
        let a = u32_at(self.offsets, r) as usize;
        let b = u32_at(self.offsets, r + 1) as usize;
        &self.arena[a..b]
    }

    /// The rank of the token with exactly these bytes.
    #[inline]
    pub fn rank(&self, bytes: &[u8]) -> Option<u32> {
        let h = hash::hash(bytes);
        let mask = (1usize << self.table_bits) - 1;
        let tag = (h as u32) & (u32::MAX >> self.rank_bits);
        let rank_mask = (1u32 << self.rank_bits) - 1;
        let mut i = (h >> (64 - self.table_bits)) as usize;
        loop {
            let slot = u32_at(self.table, i);
            if slot == 0 {
                return None;
            }
            if slot >> self.rank_bits == tag {
                let rank = (slot & rank_mask) - 1;
                if self.token(rank) == bytes {
                    return Some(rank);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// Tokens in `text`, as tiktoken's `encode_ordinary(text).len()`.
    pub fn count(&self, text: &str) -> usize {
        let mut parts = Vec::new();
        let mut n = 0;
        for piece in self.pattern.pieces(text) {
            n += self.piece_tokens(piece.as_bytes(), &mut parts);
        }
        n
    }

    /// Tokens in one pre-tokenized piece.
    fn piece_tokens(&self, piece: &[u8], parts: &mut Vec<(usize, u32)>) -> usize {
        if piece.len() <= 1 || self.rank(piece).is_some() {
            return piece.len().min(1);
        }
        if piece.len() < 100 {
            self.merge_small(piece, parts)
        } else {
            self.merge_large(piece)
        }
    }

    fn pair_rank(&self, piece: &[u8], a: usize, b: usize) -> u32 {
        self.rank(&piece[a..b]).unwrap_or(u32::MAX)
    }

    /// tiktoken's `_byte_pair_merge`: the lowest-ranked adjacent pair merges first (the
    /// leftmost of equals), until no pair is a token. Returns the number of parts.
    fn merge_small(&self, piece: &[u8], parts: &mut Vec<(usize, u32)>) -> usize {
        parts.clear();
        let mut min = (u32::MAX, usize::MAX);
        for i in 0..piece.len() - 1 {
            let rank = self.pair_rank(piece, i, i + 2);
            if rank < min.0 {
                min = (rank, i);
            }
            parts.push((i, rank));
        }
        parts.push((piece.len() - 1, u32::MAX));
        parts.push((piece.len(), u32::MAX));
        let get_rank = |parts: &Vec<(usize, u32)>, i: usize| {
            if i + 3 < parts.len() {
                self.pair_rank(piece, parts[i].0, parts[i + 3].0)
            } else {
                u32::MAX
            }
        };
        while min.0 != u32::MAX {
            let i = min.1;
            if i > 0 {
                parts[i - 1].1 = get_rank(parts, i - 1);
            }
            parts[i].1 = get_rank(parts, i);
            parts.remove(i + 1);
            min = (u32::MAX, usize::MAX);
            for (i, &(_, rank)) in parts[..parts.len() - 1].iter().enumerate() {
                if rank < min.0 {
                    min = (rank, i);
                }
            }
        }
        parts.len() - 1
    }

    /// tiktoken's `_byte_pair_merge_large` (a heap of candidate merges, for long pieces),
    /// counting the tokens.
    fn merge_large(&self, piece: &[u8]) -> usize {
        struct State {
            prev: usize,
            end: usize,
            next_end: usize,
            next_rank: u32,
        }
        #[derive(PartialEq, Eq)]
        struct Merge {
            start: usize,
            rank: u32,
        }
        impl Ord for Merge {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                other
                    .rank
                    .cmp(&self.rank)
                    .then_with(|| other.start.cmp(&self.start))
            }
        }
        impl PartialOrd for Merge {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        let len = piece.len();
        let mut state = Vec::with_capacity(len);
        state.push(State {
            prev: usize::MAX,
            end: 1,
            next_end: 2,
            next_rank: u32::MAX,
        });
        let mut heap = BinaryHeap::with_capacity(len);
        for i in 0..len - 1 {
            if let Some(rank) = self.rank(&piece[i..i + 2]) {
                heap.push(Merge { start: i, rank });
                state[i].next_rank = rank;
            }
            state.push(State {
                prev: i,
                end: i + 2,
                next_end: i + 3,
                next_rank: u32::MAX,
            });
        }
        let potential =
            |state: &mut Vec<State>, heap: &mut BinaryHeap<Merge>, start: usize, next: usize| {
                state[start].next_end = next;
                state[start].next_rank = u32::MAX;
                if next <= len
                    && let Some(rank) = self.rank(&piece[start..next])
                {
                    heap.push(Merge { start, rank });
                    state[start].next_rank = rank;
                }
            };
        while let Some(left) = heap.pop() {
            if left.rank == u32::MAX {
                break;
            }
            if left.rank != state[left.start].next_rank {
                continue;
            }
            let left_start = left.start;
            let right_start = state[left_start].end;
            let right_end = state[left_start].next_end;
            let right_next_end = state[right_start].next_end;
            state[left_start].end = right_end;
            potential(&mut state, &mut heap, left_start, right_next_end);
            if right_end < state.len() {
                state[right_end].prev = left_start;
            }
            if left_start > 0 {
                let prev_start = state[left_start].prev;
                potential(&mut state, &mut heap, prev_start, right_end);
            }
            state[right_start].next_rank = u32::MAX;
        }
        let mut n = 0;
        let mut i = 0;
        while i < state.len() {
            n += 1;
            i = state[i].end;
        }
        n
    }
}

#[cfg(test)]
mod tests;
