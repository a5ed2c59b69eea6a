//! Giving freed memory back to the system.
//!
//! glibc's allocator keeps what a program frees for reuse, in one arena per thread that
//! allocated, and returns it to the system only from the top of an arena. The saver's
//! threads (tokio's blocking pool: a new thread, a new arena) serialise whole conversations,
//! so a long session kept tens of MB it no longer used: the 5-minute soak ended at 42 MB
//! resident with a heap that never held more than 17 MB (`heaptrack`; docs/soak.md).
//!
//! On glibc, two measures: at start, at most two arenas; after the saver's writes,
//! `malloc_trim(0)`, which hands back the free pages of every arena. (Not a fixed mapping
//! threshold: a frame's buffers are a few hundred KB, and mapping them anew every frame
//! would cost page faults while streaming.) Elsewhere (musl, macOS) there is nothing to do.

/// Arenas at most: the UI thread's and one the worker threads share.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const ARENAS: libc::c_int = 2;

/// Set the allocator up for a long-running program (once, at start).
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter (for arenas made from now on); a
    // value it refuses leaves the default, so its result is not needed.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENAS);
    }
}

/// Hand the free pages of every arena back to the system (a fraction of a millisecond;
/// call it off the UI thread after work that freed much, such as a batch of saves).
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim is thread-safe and only returns free memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn rss_anon_kb() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("RssAnon:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// Freed memory in the middle of an arena (kept by glibc for reuse) goes back to the
    /// system after `release_freed`.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn freed_memory_goes_back_to_the_system() {
        // On a thread of its own: its own arena, which nothing else in the test process uses.
        std::thread::spawn(|| {
            // 64 MB in blocks under the mapping threshold, every other one kept so that the
            // free ones sit between live ones (not at the top, where glibc returns them).
            let mut blocks: Vec<Vec<u8>> = (0..2048).map(|_| vec![1u8; 32 * 1024]).collect();
            let mut kept = Vec::new();
            for (i, b) in blocks.drain(..).enumerate() {
                if i % 2 == 1 {
                    kept.push(b);
                }
            }
            let before = rss_anon_kb();
            super::release_freed();
            let after = rss_anon_kb();
            // 32 MB were free between the live blocks; most of it must be handed back.
            assert!(
                before.saturating_sub(after) > 16 * 1024,
                "RssAnon {before} kB -> {after} kB"
            );
            drop(kept);
        })
        .join()
        .unwrap();
    }
}
