//! Keys to actions, per context (the pane or panel on top). Defaults plus the user's
//! `[keys]`; F1 help and every hint are generated from this table, so they cannot drift
//! from behaviour.
//!
//! A key is looked up in the context on top, then in the contexts it falls back to (the
//! panes fall back to `Global`; the panels drawn over them only to `Quit`). A key no context
//! binds goes to the text field of the context, if it has one (the input, a filter, a value
//! being edited).

mod key;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use crossterm::event::KeyEvent;
use serde::Deserialize;

use crate::action::Action;

use key::{ALT, CTRL, SHIFT};
pub use key::{Key, KeyCodeOrd, parse_key};

/// Where a key is pressed: the focused pane, or the panel on top.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    /// Anywhere in the main screen (after the focused pane's own bindings).
    Global,
    /// The message being written.
    Input,
    /// The conversation pane.
    Conversation,
    /// The parameters panel (F2).
    Params,
    /// A parameter's value being edited.
    ParamEdit,
    /// The help screen (F1).
    Help,
    /// The model picker (`/model`).
    Models,
    /// The first-run offer of a local server.
    LocalServer,
    /// The offer to download and start (or restart) the built-in local model.
    LocalModel,
    /// The saved-conversations browser (its filter takes typing).
    Sessions,
    /// A conversation's new title being typed.
    Rename,
    /// A yes/no question.
    Confirm,
    /// The choice offered when another chat-tui writes the conversation being opened.
    Held,
    /// The conversation's branches (`/branches`).
    Branches,
    /// A reply's versions side by side (`/compare`).
    Compare,
    /// The inspector: a request and its response (`/request`, F3).
    Inspector,
    /// The token view: a reply's tokens and their probabilities (`/logprobs`).
    Logprobs,
}

impl Context {
    /// Every context, in the order help lists them.
    pub const ALL: &[Context] = &[
        Context::Global,
        Context::Input,
        Context::Conversation,
        Context::Params,
        Context::ParamEdit,
        Context::Help,
        Context::Models,
        Context::LocalServer,
        Context::LocalModel,
        Context::Sessions,
        Context::Rename,
        Context::Confirm,
        Context::Held,
        Context::Branches,
        Context::Compare,
        Context::Inspector,
        Context::Logprobs,
    ];

    /// The name in `[keys.NAME]`.
    pub fn name(self) -> &'static str {
        match self {
            Context::Global => "global",
            Context::Input => "input",
            Context::Conversation => "conversation",
            Context::Params => "params",
            Context::ParamEdit => "param_edit",
            Context::Help => "help",
            Context::Models => "models",
            Context::LocalServer => "local_server",
            Context::LocalModel => "local_model",
            Context::Sessions => "sessions",
            Context::Rename => "rename",
            Context::Confirm => "confirm",
            Context::Held => "held",
            Context::Branches => "branches",
            Context::Compare => "compare",
            Context::Inspector => "inspector",
            Context::Logprobs => "logprobs",
        }
    }

    /// A heading for the help screen.
    pub fn title(self) -> &'static str {
        match self {
            Context::Global => "anywhere",
            Context::Input => "in the input",
            Context::Conversation => "in the conversation",
            Context::Params => "in the parameters panel",
            Context::ParamEdit => "editing a parameter",
            Context::Help => "in this help",
            Context::Models => "in the model picker",
            Context::LocalServer => "in the local-server offer",
            Context::LocalModel => "in the local-model offer",
            Context::Sessions => "in saved conversations",
            Context::Rename => "renaming a conversation",
            Context::Confirm => "answering a question",
            Context::Held => "opening a conversation another chat-tui writes",
            Context::Branches => "in the branches list",
            Context::Compare => "comparing versions",
            Context::Inspector => "in the inspector",
            Context::Logprobs => "in the token view",
        }
    }

    pub fn from_name(name: &str) -> Option<Context> {
        let n = name.trim().to_ascii_lowercase().replace('-', "_");
        match n.as_str() {
            // `history` was this pane's name before.
            "conversation" | "history" => Some(Context::Conversation),
            "parameters" => Some(Context::Params),
            "parameter_edit" => Some(Context::ParamEdit),
            _ => Context::ALL.iter().copied().find(|c| c.name() == n),
        }
    }

    /// True for the panels drawn over the panes: only their own keys and Quit work there.
    pub fn is_panel(self) -> bool {
        matches!(
            self,
            Context::Help
                | Context::Models
                | Context::LocalServer
                | Context::LocalModel
                | Context::Sessions
                | Context::Rename
                | Context::Confirm
                | Context::Held
                | Context::Branches
                | Context::Compare
                | Context::Inspector
                | Context::Logprobs
        )
    }

    /// Takes typed text (unbound printable keys are text, not commands).
    pub fn takes_text(self) -> bool {
        matches!(
            self,
            Context::Input | Context::ParamEdit | Context::Sessions | Context::Rename
        )
    }
}

/// One entry of the config's `[keys]`: `"ctrl-s" = "submit"` (anywhere) or a
/// `[keys.CONTEXT]` table of such bindings for one pane or panel.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum KeyEntry {
    Action(String),
    Context(BTreeMap<String, String>),
}

/// The config's `[keys]` section.
pub type KeyConfig = BTreeMap<String, KeyEntry>;

/// The action name that removes a binding.
const UNBIND: &str = "none";

/// The table: defaults, then the user's bindings over them. `None` unbinds a key.
#[derive(Clone, Debug)]
pub struct Keymap {
    defaults: BTreeMap<(Context, Key), Action>,
    user: BTreeMap<(Context, Key), Option<Action>>,
    /// [`Keymap::keys_for`]'s answers so far (the hint bar asks for the same few every
    /// frame; each answer scans the whole table). Emptied whenever a binding changes.
    keys_memo: RefCell<HashMap<(Context, Action), Vec<Key>>>,
}

fn k(code: KeyCodeOrd, mods: u8) -> Key {
    Key { code, mods }
}

impl Default for Keymap {
    fn default() -> Self {
        use Action as A;
        use Context::*;
        use KeyCodeOrd as C;
        let mut map = BTreeMap::new();
        let mut b = |ctx, key, action| {
            map.insert((ctx, key), action);
        };
        b(Global, k(C::Char('c'), CTRL), A::CancelOrQuit);
        b(Global, k(C::Char('q'), CTRL), A::Quit);
        b(Global, k(C::Esc, 0), A::Cancel);
        b(Global, k(C::F(1), 0), A::Help);
        b(Global, k(C::F(2), 0), A::ToggleParams);
        b(Global, k(C::F(3), 0), A::Inspector);
        b(Global, k(C::Left, ALT), A::PrevChoice);
        b(Global, k(C::Right, ALT), A::NextChoice);
        b(Global, k(C::PageUp, 0), A::PageUp);
        b(Global, k(C::PageDown, 0), A::PageDown);
        b(Global, k(C::Home, CTRL), A::ScrollTop);
        b(Global, k(C::End, CTRL), A::ScrollBottom);
        b(Global, k(C::Char('o'), CTRL), A::Sessions);
        b(Global, k(C::Char('n'), CTRL), A::NewChat);
        b(Global, k(C::Char('r'), CTRL), A::Retry);
        b(Global, k(C::BackTab, 0), A::FocusNext);
        b(Global, k(C::Char('g'), CTRL), A::Editor);
        b(Global, k(C::Char('z'), CTRL), A::Suspend);

        b(Input, k(C::Enter, 0), A::Submit);
        b(Input, k(C::Enter, ALT), A::Newline);
        b(Input, k(C::Enter, SHIFT), A::Newline);
        b(Input, k(C::Char('j'), CTRL), A::Newline);
        b(Input, k(C::Up, 0), A::RecallPrev);
        b(Input, k(C::Down, 0), A::RecallNext);
        b(Input, k(C::Tab, 0), A::Complete);
        b(Input, k(C::Char('t'), CTRL), A::ExpandPaste);

        b(Conversation, k(C::Up, 0), A::SelectPrev);
        b(Conversation, k(C::Char('k'), 0), A::SelectPrev);
        b(Conversation, k(C::Down, 0), A::SelectNext);
        b(Conversation, k(C::Char('j'), 0), A::SelectNext);
        b(Conversation, k(C::Up, CTRL), A::ScrollUp);
        b(Conversation, k(C::Down, CTRL), A::ScrollDown);
        b(Conversation, k(C::Char('['), 0), A::PrevChoice);
        b(Conversation, k(C::Char(']'), 0), A::NextChoice);
        b(Conversation, k(C::Home, 0), A::ScrollTop);
        b(Conversation, k(C::Char('g'), 0), A::ScrollTop);
        b(Conversation, k(C::End, 0), A::ScrollBottom);
        b(Conversation, k(C::Char('G'), 0), A::ScrollBottom);
        b(Conversation, k(C::Tab, 0), A::FocusNext);
        b(Conversation, k(C::Char('q'), 0), A::Quit);
        b(Conversation, k(C::Char('y'), 0), A::CopyMessage);
        b(Conversation, k(C::Char('Y'), 0), A::CopyCode);
        b(Conversation, k(C::Up, ALT), A::PrevBranch);
        b(Conversation, k(C::Down, ALT), A::NextBranch);
        b(Conversation, k(C::Char('e'), 0), A::EditMessage);
        b(Conversation, k(C::Char('b'), 0), A::Branches);
        b(Conversation, k(C::Char('v'), 0), A::CompareVersions);
        b(Conversation, k(C::Char('t'), 0), A::ToggleReasoning);
        b(Conversation, k(C::Char('p'), 0), A::Logprobs);
        b(Conversation, k(C::Char('P'), 0), A::ToggleTint);

        b(Params, k(C::Up, 0), A::SelectPrev);
        b(Params, k(C::Char('k'), 0), A::SelectPrev);
        b(Params, k(C::Down, 0), A::SelectNext);
        b(Params, k(C::Char('j'), 0), A::SelectNext);
        b(Params, k(C::Enter, 0), A::Edit);
        b(Params, k(C::Char('e'), 0), A::Edit);
        b(Params, k(C::Delete, 0), A::Unset);
        b(Params, k(C::Backspace, 0), A::Unset);
        b(Params, k(C::Char('d'), 0), A::Unset);
        b(Params, k(C::Esc, 0), A::Close);
        b(Params, k(C::Tab, 0), A::FocusNext);

        b(ParamEdit, k(C::Enter, 0), A::Apply);
        b(ParamEdit, k(C::Esc, 0), A::Close);

        b(Help, k(C::Up, 0), A::ScrollUp);
        b(Help, k(C::Char('k'), 0), A::ScrollUp);
        b(Help, k(C::Down, 0), A::ScrollDown);
        b(Help, k(C::Char('j'), 0), A::ScrollDown);
        b(Help, k(C::PageUp, 0), A::PageUp);
        b(Help, k(C::PageDown, 0), A::PageDown);
        b(Help, k(C::Char(' '), 0), A::PageDown);
        b(Help, k(C::Esc, 0), A::Close);
        b(Help, k(C::F(1), 0), A::Close);

        b(Models, k(C::Up, 0), A::SelectPrev);
        b(Models, k(C::Down, 0), A::SelectNext);
        b(Models, k(C::Enter, 0), A::Accept);
        b(Models, k(C::Esc, 0), A::Close);

        b(LocalServer, k(C::Enter, 0), A::Yes);
        b(LocalServer, k(C::Char('y'), 0), A::Yes);
        b(LocalServer, k(C::Char('n'), 0), A::No);
        b(LocalServer, k(C::Esc, 0), A::No);

        b(LocalModel, k(C::Char('L'), 0), A::StartLocal);
        b(LocalModel, k(C::Char('l'), 0), A::StartLocal);
        b(LocalModel, k(C::Char('n'), 0), A::No);
        b(LocalModel, k(C::Esc, 0), A::No);

        b(Sessions, k(C::Up, 0), A::SelectPrev);
        b(Sessions, k(C::Down, 0), A::SelectNext);
        b(Sessions, k(C::PageUp, 0), A::PageUp);
        b(Sessions, k(C::PageDown, 0), A::PageDown);
        b(Sessions, k(C::Enter, 0), A::Accept);
        b(Sessions, k(C::Char('r'), CTRL), A::Rename);
        b(Sessions, k(C::Delete, 0), A::Delete);
        b(Sessions, k(C::Char('d'), CTRL), A::Delete);
        b(Sessions, k(C::Char('e'), CTRL), A::Export);
        b(Sessions, k(C::Esc, 0), A::Close);

        b(Rename, k(C::Enter, 0), A::Apply);
        b(Rename, k(C::Esc, 0), A::Close);

        b(Branches, k(C::Up, 0), A::SelectPrev);
        b(Branches, k(C::Char('k'), 0), A::SelectPrev);
        b(Branches, k(C::Down, 0), A::SelectNext);
        b(Branches, k(C::Char('j'), 0), A::SelectNext);
        b(Branches, k(C::PageUp, 0), A::PageUp);
        b(Branches, k(C::PageDown, 0), A::PageDown);
        b(Branches, k(C::Enter, 0), A::Accept);
        b(Branches, k(C::Esc, 0), A::Close);
        b(Branches, k(C::Char('b'), 0), A::Close);

        b(Compare, k(C::Left, 0), A::PrevChoice);
        b(Compare, k(C::Char('h'), 0), A::PrevChoice);
        b(Compare, k(C::Right, 0), A::NextChoice);
        b(Compare, k(C::Char('l'), 0), A::NextChoice);
        b(Compare, k(C::Up, 0), A::ScrollUp);
        b(Compare, k(C::Char('k'), 0), A::ScrollUp);
        b(Compare, k(C::Down, 0), A::ScrollDown);
        b(Compare, k(C::Char('j'), 0), A::ScrollDown);
        b(Compare, k(C::PageUp, 0), A::PageUp);
        b(Compare, k(C::PageDown, 0), A::PageDown);
        b(Compare, k(C::Enter, 0), A::Accept);
        b(Compare, k(C::Char('c'), CTRL), A::Cancel);
        b(Compare, k(C::Esc, 0), A::Close);
        b(Compare, k(C::Char('v'), 0), A::Close);

        b(Inspector, k(C::Up, 0), A::ScrollUp);
        b(Inspector, k(C::Char('k'), 0), A::ScrollUp);
        b(Inspector, k(C::Down, 0), A::ScrollDown);
        b(Inspector, k(C::Char('j'), 0), A::ScrollDown);
        b(Inspector, k(C::PageUp, 0), A::PageUp);
        b(Inspector, k(C::PageDown, 0), A::PageDown);
        b(Inspector, k(C::Char(' '), 0), A::PageDown);
        b(Inspector, k(C::Home, 0), A::ScrollTop);
        b(Inspector, k(C::Char('g'), 0), A::ScrollTop);
        b(Inspector, k(C::End, 0), A::ScrollBottom);
        b(Inspector, k(C::Char('G'), 0), A::ScrollBottom);
        b(Inspector, k(C::Tab, 0), A::InspectorTab);
        b(Inspector, k(C::Left, 0), A::PrevChoice);
        b(Inspector, k(C::Right, 0), A::NextChoice);
        b(Inspector, k(C::Char('c'), 0), A::CopyCurl);
        b(Inspector, k(C::Char('b'), 0), A::CopyRequest);
        b(Inspector, k(C::Char('r'), 0), A::CopyResponse);
        b(Inspector, k(C::Esc, 0), A::Close);
        b(Inspector, k(C::Char('q'), 0), A::Close);
        b(Inspector, k(C::F(3), 0), A::Close);

        b(Logprobs, k(C::Up, 0), A::SelectPrev);
        b(Logprobs, k(C::Char('k'), 0), A::SelectPrev);
        b(Logprobs, k(C::Down, 0), A::SelectNext);
        b(Logprobs, k(C::Char('j'), 0), A::SelectNext);
        b(Logprobs, k(C::PageUp, 0), A::PageUp);
        b(Logprobs, k(C::PageDown, 0), A::PageDown);
        b(Logprobs, k(C::Char(' '), 0), A::PageDown);
        b(Logprobs, k(C::Home, 0), A::ScrollTop);
        b(Logprobs, k(C::Char('g'), 0), A::ScrollTop);
        b(Logprobs, k(C::End, 0), A::ScrollBottom);
        b(Logprobs, k(C::Char('G'), 0), A::ScrollBottom);
        b(Logprobs, k(C::Left, 0), A::PrevChoice);
        b(Logprobs, k(C::Char('h'), 0), A::PrevChoice);
        b(Logprobs, k(C::Right, 0), A::NextChoice);
        b(Logprobs, k(C::Char('l'), 0), A::NextChoice);
        b(Logprobs, k(C::Tab, 0), A::NextChoice);
        b(Logprobs, k(C::BackTab, 0), A::PrevChoice);
        b(Logprobs, k(C::Enter, 0), A::Accept);
        b(Logprobs, k(C::Char('P'), 0), A::ToggleTint);
        b(Logprobs, k(C::Esc, 0), A::Close);
        b(Logprobs, k(C::Char('q'), 0), A::Close);
        b(Logprobs, k(C::Char('p'), 0), A::Close);

        b(Confirm, k(C::Char('y'), 0), A::Yes);
        b(Confirm, k(C::Char('Y'), 0), A::Yes);
        b(Confirm, k(C::Char('n'), 0), A::No);
        b(Confirm, k(C::Esc, 0), A::No);

        b(Held, k(C::Char('r'), 0), A::ReadOnly);
        b(Held, k(C::Char('c'), 0), A::ContinueInCopy);
        b(Held, k(C::Esc, 0), A::Close);
        Keymap {
            defaults: map,
            user: BTreeMap::new(),
            keys_memo: RefCell::default(),
        }
    }
}

impl Keymap {
    /// Defaults plus the user's bindings. Returns the problems found (each names the entry).
    pub fn with_overrides(config: &KeyConfig) -> (Keymap, Vec<String>) {
        let mut km = Keymap::default();
        let mut problems = Vec::new();
        for (name, entry) in config {
            match entry {
                KeyEntry::Action(action) => {
                    km.bind(Context::Global, name, action, &mut problems);
                }
                KeyEntry::Context(table) => match Context::from_name(name) {
                    Some(ctx) => {
                        for (key, action) in table {
                            km.bind(ctx, key, action, &mut problems);
                        }
                    }
                    None => problems.push(format!(
                        "[keys.{name}]: no such pane (one of: {})",
                        Context::ALL
                            .iter()
                            .map(|c| c.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                },
            }
        }
        (km, problems)
    }

    fn bind(&mut self, ctx: Context, key: &str, action: &str, problems: &mut Vec<String>) {
        let place = match ctx {
            Context::Global => "[keys]".to_string(),
            c => format!("[keys.{}]", c.name()),
        };
        let Some(k) = parse_key(key) else {
            problems.push(format!("{place} `{key}` is not a key this program knows"));
            return;
        };
        let action = if action.trim().eq_ignore_ascii_case(UNBIND) {
            None
        } else {
            match Action::from_name(action) {
                Some(a) => Some(a),
                None => {
                    problems.push(format!(
                        "{place} `{key}` = `{action}`: unknown action (F1 lists them)"
                    ));
                    return;
                }
            }
        };
        // A plain character bound anywhere would stop it being typed.
        if ctx == Context::Global
            && k.mods & (CTRL | ALT) == 0
            && matches!(k.code, KeyCodeOrd::Char(_))
        {
            problems.push(format!(
                "{place} `{key}`: a plain character cannot be bound everywhere (it could not be typed); bind it in a pane, e.g. [keys.conversation]"
            ));
            return;
        }
        self.user.insert((ctx, k), action);
        self.keys_memo.get_mut().clear();
    }

    /// The contexts a key pressed in `ctx` is looked up in, in order.
    fn chain(ctx: Context) -> &'static [Context] {
        match ctx {
            Context::Global => &[Context::Global],
            Context::Input => &[Context::Input, Context::Global],
            Context::Conversation => &[Context::Conversation, Context::Global],
            Context::Params => &[Context::Params, Context::Global],
            Context::ParamEdit => &[Context::ParamEdit, Context::Global],
            Context::Help => &[Context::Help],
            Context::Models => &[Context::Models],
            Context::LocalServer => &[Context::LocalServer],
            Context::LocalModel => &[Context::LocalModel],
            Context::Sessions => &[Context::Sessions],
            Context::Rename => &[Context::Rename],
            Context::Confirm => &[Context::Confirm],
            Context::Held => &[Context::Held],
            Context::Branches => &[Context::Branches],
            Context::Compare => &[Context::Compare],
            Context::Inspector => &[Context::Inspector],
            Context::Logprobs => &[Context::Logprobs],
        }
    }

    /// The binding of `key` in exactly `ctx`: the user's, else the default.
    fn get(&self, ctx: Context, key: Key) -> Option<Option<Action>> {
        if let Some(a) = self.user.get(&(ctx, key)) {
            return Some(*a);
        }
        self.defaults.get(&(ctx, key)).map(|a| Some(*a))
    }

    fn resolve(&self, ctx: Context, key: Key) -> Option<Action> {
        let chain = Self::chain(ctx);
        // The user's bindings win over every default along the chain (so a key rebound
        // anywhere also works in a pane that binds it by default)…
        for c in chain {
            if let Some(a) = self.user.get(&(*c, key)) {
                return *a;
            }
        }
        for c in chain {
            if let Some(a) = self.defaults.get(&(*c, key)) {
                return Some(*a);
            }
        }
        // …and over every panel, Quit works.
        if ctx.is_panel()
            && let Some(Some(Action::Quit)) = self.get(Context::Global, key)
        {
            return Some(Action::Quit);
        }
        None
    }

    /// The action for `ev` pressed in `ctx`.
    pub fn lookup(&self, ctx: Context, ev: &KeyEvent) -> Option<Action> {
        self.resolve(ctx, Key::from_event(ev)?)
    }

    /// The keys bound in exactly `ctx` (after the user's changes), for the help screen:
    /// (key label, action), in key order. A key whose binding here is shadowed by a user
    /// binding elsewhere on the chain is listed where that binding is.
    pub fn bindings(&self, ctx: Context) -> Vec<(String, Action)> {
        let mut keys: Vec<Key> = self
            .defaults
            .keys()
            .chain(self.user.keys())
            .filter(|(c, _)| *c == ctx)
            .map(|(_, k)| *k)
            .collect();
        keys.sort();
        keys.dedup();
        // Listed under the context whose own binding is what the key does there.
        keys.into_iter()
            .filter_map(|k| match (self.get(ctx, k), self.resolve(ctx, k)) {
                (Some(Some(own)), Some(does)) if own == does => Some((k.label(), does)),
                _ => None,
            })
            .collect()
    }

    /// Every key that does `action` when pressed in `ctx`, best first for a hint: no
    /// modifiers, then one with Enter (Alt+Enter reads better than Ctrl+J), then a named key
    /// over a letter, then the shortest.
    pub fn keys_for(&self, ctx: Context, action: Action) -> Vec<Key> {
        if let Some(keys) = self.keys_memo.borrow().get(&(ctx, action)) {
            return keys.clone();
        }
        let keys = self.scan_keys_for(ctx, action);
        self.keys_memo
            .borrow_mut()
            .insert((ctx, action), keys.clone());
        keys
    }

    /// [`Keymap::keys_for`] without the memo: a scan of the whole table.
    fn scan_keys_for(&self, ctx: Context, action: Action) -> Vec<Key> {
        let mut keys: Vec<Key> = self
            .defaults
            .keys()
            .chain(self.user.keys())
            .filter(|(c, _)| Self::chain(ctx).contains(c))
            .map(|(_, k)| *k)
            .filter(|k| self.resolve(ctx, *k) == Some(action))
            .collect();
        keys.sort_by_key(|k| {
            (
                k.mods != 0,
                k.code != KeyCodeOrd::Enter,
                matches!(k.code, KeyCodeOrd::Char(_)),
                matches!(k.code, KeyCodeOrd::Char(c) if c.is_uppercase()),
                k.label().len(),
                *k,
            )
        });
        keys.dedup();
        keys
    }

    /// The key to show in a hint for `action` in `ctx` (empty when nothing is bound).
    pub fn hint_key(&self, ctx: Context, action: Action) -> String {
        self.keys_for(ctx, action)
            .first()
            .map(Key::label)
            .unwrap_or_default()
    }

    /// Like [`Keymap::hint_key`], but a letter when one is bound (a "y / n" question reads
    /// better with letters).
    pub fn letter_key(&self, ctx: Context, action: Action) -> String {
        let keys = self.keys_for(ctx, action);
        keys.iter()
            .find(|k| k.mods == 0 && matches!(k.code, KeyCodeOrd::Char(_)))
            .or(keys.first())
            .map(Key::label)
            .unwrap_or_default()
    }

    /// The keys for a pair of actions (previous/next): "↑↓" for arrows, "[ ]" for other
    /// single keys, else "PgUp/PgDn".
    pub fn hint_pair(&self, ctx: Context, a: Action, b: Action) -> String {
        let (x, y) = (self.hint_key(ctx, a), self.hint_key(ctx, b));
        let arrow = |s: &str| matches!(s, "↑" | "↓" | "←" | "→");
        if x.is_empty() || y.is_empty() || (arrow(&x) && arrow(&y)) {
            format!("{x}{y}")
        } else if x.chars().count() == 1 && y.chars().count() == 1 {
            format!("{x} {y}")
        } else {
            format!("{x}/{y}")
        }
    }
}

/// Hints for a context: `KEY word` items in the order given, skipping actions with no key.
/// Pairs (`(prev, next)`) show both keys under one word.
pub fn hints(km: &Keymap, ctx: Context, items: &[Hint]) -> Vec<String> {
    items
        .iter()
        .filter_map(|h| {
            let (keys, word) = match *h {
                Hint::One(a) => (km.hint_key(ctx, a), a.hint()),
                Hint::Pair(a, b) => (km.hint_pair(ctx, a, b), a.hint()),
                Hint::Named(a, word) => (km.hint_key(ctx, a), word),
                Hint::NamedPair(a, b, word) => (km.hint_pair(ctx, a, b), word),
            };
            (!keys.is_empty()).then(|| format!("{keys} {word}"))
        })
        .collect()
}

/// An item of the hint bar.
#[derive(Clone, Copy, Debug)]
pub enum Hint {
    One(Action),
    Pair(Action, Action),
    /// An action with a word of its own in this place.
    Named(Action, &'static str),
    /// A pair (`(prev, next)`) under a word of its own in this place.
    NamedPair(Action, Action, &'static str),
}

#[cfg(test)]
mod tests;
