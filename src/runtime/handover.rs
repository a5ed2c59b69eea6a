//! Handing the terminal to someone else and taking it back: the external editor
//! (`Effect::Edit`) and suspending to the shell (`Effect::Suspend`).
//!
//! Both stop the input reader first (so nothing reads the keys meant for the editor or the
//! shell), restore the terminal (normal screen, cooked mode, no mouse or bracketed paste),
//! and afterwards take it back and redraw everything.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::Stdio;

use crate::action::Msg;
use crate::runtime::input::Input;
use crate::runtime::terminal::{self, Term};

/// The editor to run: `$VISUAL`, else `$EDITOR`, else `vi` (empty values are skipped).
pub fn editor_command(visual: Option<&str>, editor: Option<&str>) -> String {
    [visual, editor]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|s| !s.is_empty())
        .unwrap_or("vi")
        .to_string()
}

/// Write `draft` to a private temporary `.md` file, run the editor on it with the terminal
/// handed over, and read it back. The file is removed whatever happens.
pub async fn edit(term: &mut Term, input: &Input, draft: &str) -> Msg {
    let visual = std::env::var("VISUAL").ok();
    let editor = std::env::var("EDITOR").ok();
    let command = editor_command(visual.as_deref(), editor.as_deref());
    // Created 0600 in the temporary folder, removed when dropped.
    let file = match tempfile::Builder::new()
        .prefix("chat-tui-message-")
        .suffix(".md")
        .tempfile()
    {
        Ok(f) => f,
        Err(e) => return Msg::Edited(Err(format!("cannot create a temporary file: {e}"))),
    };
    if let Err(e) = file
        .as_file()
        .write_all(draft.as_bytes())
        .and_then(|()| file.as_file().sync_all())
    {
        return Msg::Edited(Err(format!(
            "cannot write the temporary file {}: {e}",
            file.path().display()
        )));
    }
    input.pause();
    terminal::restore();
    let status = run_editor(&command, file.path()).await;
    let back = terminal::resume(term);
    input.resume();
    let result = match (status, back) {
        (_, Err(e)) => Err(format!("cannot take the terminal back: {e}")),
        (Err(e), _) => Err(e),
        (Ok(()), Ok(())) => read_back(file.path()),
    };
    drop(file);
    Msg::Edited(result)
}

/// Run `command` (split like a shell would: `code --wait` works) on `path` and wait.
async fn run_editor(command: &str, path: &Path) -> Result<(), String> {
    let mut cmd = tokio::process::Command::new("/bin/sh");
    // `$0` names the editor in the shell's own messages; the file is `$1`. `exec`: the
    // editor is the only process (a Ctrl+C typed in it reaches it, not a waiting shell).
    cmd.arg("-c")
        .arg(format!("exec {command} \"$1\""))
        .arg(command)
        .arg(path)
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    // The editor reads the terminal, even when chat-tui's own input is not it.
    if !std::io::stdin().is_terminal()
        && let Ok(tty) = std::fs::File::open("/dev/tty")
    {
        cmd.stdin(Stdio::from(tty));
    }
    let status = cmd
        .status()
        .await
        .map_err(|e| format!("cannot run the editor `{command}`: {e}"))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(127) => Err(format!(
            "editor `{command}` not found (set $VISUAL or $EDITOR)"
        )),
        Some(126) => Err(format!(
            "editor `{command}` cannot be run (not executable?)"
        )),
        Some(n) => Err(format!("the editor `{command}` exited with status {n}")),
        None => Err(format!("the editor `{command}` was stopped by a signal")),
    }
}

/// The edited message: the file's text without its trailing line breaks (editors add one).
fn read_back(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the edited file: {e}"))?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_end_matches(['\n', '\r']);
    if text.trim().is_empty() {
        return Err("the editor left the file empty".into());
    }
    Ok(text.replace("\r\n", "\n"))
}

/// Ctrl+Z: give the terminal back, stop (SIGTSTP, the default action: the shell takes over),
/// and on `fg` (SIGCONT) take it back and redraw everything.
pub fn suspend(term: &mut Term, input: &Input) -> Msg {
    input.pause();
    terminal::restore();
    // Stops here until continued. In an orphaned process group (no job control) the
    // kernel ignores it and this returns at once.
    let stopped =
        rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::TSTP);
    let back = terminal::resume(term);
    input.resume();
    Msg::Resumed(match (stopped, back) {
        (_, Err(e)) => Err(format!("cannot take the terminal back: {e}")),
        (Err(e), _) => Err(format!("cannot suspend: {e}")),
        (Ok(()), Ok(())) => Ok(()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visual_then_editor_then_vi() {
        assert_eq!(editor_command(Some("nvim"), Some("nano")), "nvim");
        assert_eq!(editor_command(Some("  "), Some("nano")), "nano");
        assert_eq!(editor_command(None, Some("code --wait")), "code --wait");
        assert_eq!(editor_command(None, None), "vi");
        assert_eq!(editor_command(Some(""), Some("")), "vi");
    }

    #[test]
    fn the_edited_text_loses_trailing_line_breaks_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.md");
        std::fs::write(&p, "  indented\n\nsecond\r\n\n").unwrap();
        assert_eq!(read_back(&p).unwrap(), "  indented\n\nsecond");
        std::fs::write(&p, "\n \n").unwrap();
        assert!(read_back(&p).unwrap_err().contains("empty"));
    }
}
