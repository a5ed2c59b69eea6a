//! The shape of a conversation with versions and branches: a forest of message ids, each
//! naming its parent (or none: a root). Replies to the same question are *versions*;
//! messages after the same message are *branches*. The conversation shows one path: a
//! chain from a root.
//!
//! This module knows only ids and parents (no text, no UI): checking the invariants,
//! repairing what a hand edit broke, and the walks the conversation needs — ancestry,
//! siblings, the newest leaf below a message, every branch.

use std::collections::{BTreeMap, HashMap, HashSet};

/// A message id (see `conversation::MessageId`).
pub type Id = u64;

/// Where a message stands among its siblings (the children of its parent, by id):
/// `index` of `count`, from 1. `count` 1 (or 0: not computed) means no fork.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Fork {
    pub index: usize,
    pub count: usize,
}

impl Fork {
    /// True when the message has siblings.
    pub fn is_fork(&self) -> bool {
        self.count > 1
    }
}

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("message id {0} is used twice")]
    DuplicateId(Id),
    #[error("message {id} names parent {parent}, which does not exist")]
    MissingParent { id: Id, parent: Id },
    #[error("messages {0:?} are each other's ancestors (a cycle)")]
    Cycle(Vec<Id>),
    #[error("the path does not start at a root: message {0} has a parent")]
    PathNotFromRoot(Id),
    #[error("the path is not a chain: message {id} follows {after}, but its parent is {parent:?}")]
    PathBroken {
        id: Id,
        after: Id,
        parent: Option<Id>,
    },
    #[error("the path names message {0}, which does not exist")]
    PathUnknown(Id),
}

/// What [`repair`] changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Repair {
    /// The parent does not exist: the message now starts a branch of its own (a root).
    MissingParent { id: Id, parent: Id },
    /// These messages were each other's ancestors: the smallest id now starts a branch of
    /// its own (a root).
    Cycle { ids: Vec<Id>, cut: Id },
}

impl std::fmt::Display for Repair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Repair::MissingParent { id, parent } => write!(
                f,
                "message {id} names parent {parent}, which does not exist: it is kept as the start of a separate branch"
            ),
            Repair::Cycle { ids, cut } => write!(
                f,
                "messages {} form a cycle of parents: message {cut} is kept as the start of a separate branch",
                ids.iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// Make `links` (id, parent) a forest: a parent that does not exist is cut (the message
/// becomes a root), and every cycle is cut at its smallest id. Ids must be unique. Nothing
/// is dropped. Returns what was cut, in id order.
pub fn repair(links: &mut [(Id, Option<Id>)]) -> Vec<Repair> {
    let mut out = Vec::new();
    let ids: HashSet<Id> = links.iter().map(|(id, _)| *id).collect();
    for (id, parent) in links.iter_mut() {
        if let Some(p) = *parent
            && !ids.contains(&p)
        {
            out.push(Repair::MissingParent { id: *id, parent: p });
            *parent = None;
        }
    }
    // Cycles: follow parents from every node; a walk that meets itself found a cycle.
    loop {
        let parent: HashMap<Id, Option<Id>> = links.iter().copied().collect();
        let Some(cycle) = find_cycle(&parent) else {
            break;
        };
        let cut = cycle.iter().copied().min().unwrap_or_default();
        if let Some(l) = links.iter_mut().find(|(id, _)| *id == cut) {
            l.1 = None;
        }
        let mut ids = cycle;
        ids.sort_unstable();
        out.push(Repair::Cycle { ids, cut });
    }
    out
}

/// One cycle among `parent` links, if any (its members).
fn find_cycle(parent: &HashMap<Id, Option<Id>>) -> Option<Vec<Id>> {
    // 0 = unseen, 1 = on the current walk, 2 = done (leads to a root).
    let mut state: HashMap<Id, u8> = HashMap::with_capacity(parent.len());
    let mut keys: Vec<Id> = parent.keys().copied().collect();
    keys.sort_unstable();
    for start in keys {
        if state.get(&start).copied().unwrap_or(0) != 0 {
            continue;
        }
        let mut walk = Vec::new();
        let mut cur = Some(start);
        while let Some(id) = cur {
            match state.get(&id).copied().unwrap_or(0) {
                0 => {
                    state.insert(id, 1);
                    walk.push(id);
                    cur = parent.get(&id).copied().flatten();
                }
                1 => {
                    let from = walk.iter().position(|x| *x == id).unwrap_or(0);
                    return Some(walk[from..].to_vec());
                }
                _ => break,
            }
        }
        for id in walk {
            state.insert(id, 2);
        }
    }
    None
}

/// Check the invariants: ids unique, parents exist, no cycles, and `path` a chain from a
/// root.
pub fn check(links: &[(Id, Option<Id>)], path: &[Id]) -> Result<(), TreeError> {
    let mut parent: HashMap<Id, Option<Id>> = HashMap::with_capacity(links.len());
    for (id, p) in links {
        if parent.insert(*id, *p).is_some() {
            return Err(TreeError::DuplicateId(*id));
        }
    }
    for (id, p) in links {
        if let Some(p) = p
            && !parent.contains_key(p)
        {
            return Err(TreeError::MissingParent {
                id: *id,
                parent: *p,
            });
        }
    }
    if let Some(mut c) = find_cycle(&parent) {
        c.sort_unstable();
        return Err(TreeError::Cycle(c));
    }
    let mut prev: Option<Id> = None;
    for (i, id) in path.iter().enumerate() {
        let Some(p) = parent.get(id) else {
            return Err(TreeError::PathUnknown(*id));
        };
        if i == 0 && p.is_some() {
            return Err(TreeError::PathNotFromRoot(*id));
        }
        if let Some(after) = prev
            && *p != Some(after)
        {
            return Err(TreeError::PathBroken {
                id: *id,
                after,
                parent: *p,
            });
        }
        prev = Some(*id);
    }
    Ok(())
}

/// The longest prefix of `path` that is a chain from a root in `links`.
pub fn valid_prefix(links: &[(Id, Option<Id>)], path: &[Id]) -> usize {
    let parent: HashMap<Id, Option<Id>> = links.iter().copied().collect();
    let mut prev: Option<Id> = None;
    for (i, id) in path.iter().enumerate() {
        match parent.get(id) {
            Some(p) if *p == prev => prev = Some(*id),
            _ => return i,
        }
    }
    path.len()
}

/// A valid forest (see [`repair`] and [`check`]) and the walks over it.
#[derive(Clone, Debug, Default)]
pub struct Forest {
    parent: HashMap<Id, Option<Id>>,
    /// Children of each parent (`None`: the roots), by id.
    children: HashMap<Option<Id>, Vec<Id>>,
}

impl Forest {
    /// The forest of `links` (assumed valid: unique ids, existing parents, no cycles).
    pub fn new(links: impl IntoIterator<Item = (Id, Option<Id>)>) -> Forest {
        let mut f = Forest::default();
        for (id, p) in links {
            f.parent.insert(id, p);
            f.children.entry(p).or_default().push(id);
        }
        for v in f.children.values_mut() {
            v.sort_unstable();
        }
        f
    }

    pub fn len(&self) -> usize {
        self.parent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    pub fn contains(&self, id: Id) -> bool {
        self.parent.contains_key(&id)
    }

    /// The parent of `id` (`Some(None)` for a root, `None` for an unknown id).
    pub fn parent(&self, id: Id) -> Option<Option<Id>> {
        self.parent.get(&id).copied()
    }

    /// The children of `parent` (`None`: the roots), by id.
    pub fn children(&self, parent: Option<Id>) -> &[Id] {
        self.children.get(&parent).map(Vec::as_slice).unwrap_or(&[])
    }

    /// `id` and the other children of its parent, by id.
    pub fn siblings(&self, id: Id) -> &[Id] {
        match self.parent(id) {
            Some(p) => self.children(p),
            None => &[],
        }
    }

    /// Where `id` stands among its siblings.
    pub fn fork(&self, id: Id) -> Fork {
        let s = self.siblings(id);
        Fork {
            index: s.iter().position(|x| *x == id).map_or(0, |i| i + 1),
            count: s.len(),
        }
    }

    /// The chain from a root down to `id` (inclusive); empty for an unknown id.
    pub fn ancestry(&self, id: Id) -> Vec<Id> {
        let mut out = Vec::new();
        let mut cur = Some(id);
        while let Some(c) = cur {
            let Some(p) = self.parent(c) else {
                break;
            };
            out.push(c);
            if out.len() > self.parent.len() {
                break; // not a forest: never loop
            }
            cur = p;
        }
        out.reverse();
        out
    }

    /// The largest id in the subtree of every message (the most recently written message
    /// below it: ids only grow).
    fn newest_below(&self) -> HashMap<Id, Id> {
        let mut best: HashMap<Id, Id> = HashMap::with_capacity(self.parent.len());
        // Post-order without recursion (a long chain must not overflow the stack).
        let mut stack: Vec<(Id, bool)> = self
            .children(None)
            .iter()
            .rev()
            .map(|id| (*id, false))
            .collect();
        while let Some((id, expanded)) = stack.pop() {
            if expanded {
                let m = self
                    .children(Some(id))
                    .iter()
                    .filter_map(|c| best.get(c).copied())
                    .fold(id, Id::max);
                best.insert(id, m);
            } else {
                stack.push((id, true));
                for c in self.children(Some(id)).iter().rev() {
                    stack.push((*c, false));
                }
            }
        }
        best
    }

    /// Below `id`: at each fork the child whose subtree was written to last, down to a
    /// leaf (excluding `id` itself; empty when `id` is a leaf).
    pub fn newest_descent(&self, id: Id) -> Vec<Id> {
        let newest = self.newest_below();
        let mut out = Vec::new();
        let mut cur = id;
        loop {
            let next = self
                .children(Some(cur))
                .iter()
                .copied()
                .max_by_key(|c| (newest.get(c).copied().unwrap_or(*c), *c));
            match next {
                Some(n) if out.len() <= self.parent.len() => {
                    out.push(n);
                    cur = n;
                }
                _ => return out,
            }
        }
    }

    /// The path through `id`: its ancestry, then [`Forest::newest_descent`].
    pub fn path_through(&self, id: Id) -> Vec<Id> {
        let mut p = self.ancestry(id);
        if !p.is_empty() {
            p.extend(self.newest_descent(id));
        }
        p
    }

    /// The path the conversation opens on when none is recorded: through the newest root's
    /// newest leaf.
    pub fn newest_path(&self) -> Vec<Id> {
        let newest = self.newest_below();
        let root = self
            .children(None)
            .iter()
            .copied()
            .max_by_key(|c| (newest.get(c).copied().unwrap_or(*c), *c));
        match root {
            Some(r) => self.path_through(r),
            None => Vec::new(),
        }
    }

    /// Every leaf, depth first (children by id): one per branch.
    pub fn leaves(&self) -> Vec<Id> {
        let mut out = Vec::new();
        let mut stack: Vec<Id> = self.children(None).iter().rev().copied().collect();
        while let Some(id) = stack.pop() {
            let kids = self.children(Some(id));
            if kids.is_empty() {
                out.push(id);
            }
            stack.extend(kids.iter().rev());
        }
        out
    }

    /// The forks (messages with siblings), as (parent, children) by parent.
    pub fn forks(&self) -> BTreeMap<Option<Id>, Vec<Id>> {
        self.children
            .iter()
            .filter(|(_, v)| v.len() > 1)
            .map(|(p, v)| (*p, v.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chain(ids: &[Id]) -> Vec<(Id, Option<Id>)> {
        let mut prev = None;
        ids.iter()
            .map(|id| {
                let l = (*id, prev);
                prev = Some(*id);
                l
            })
            .collect()
    }

    #[test]
    fn a_chain_is_a_valid_path() {
        let links = chain(&[1, 2, 3]);
        assert_eq!(check(&links, &[1, 2, 3]), Ok(()));
        assert_eq!(check(&links, &[1, 2]), Ok(()));
        assert_eq!(check(&links, &[]), Ok(()));
        assert_eq!(check(&links, &[2, 3]), Err(TreeError::PathNotFromRoot(2)));
        assert_eq!(
            check(&links, &[1, 3]),
            Err(TreeError::PathBroken {
                id: 3,
                after: 1,
                parent: Some(2)
            })
        );
        assert_eq!(check(&links, &[1, 9]), Err(TreeError::PathUnknown(9)));
        assert_eq!(valid_prefix(&links, &[1, 3]), 1);
        assert_eq!(valid_prefix(&links, &[1, 2, 3]), 3);
    }

    #[test]
    fn broken_links_are_found() {
        let mut links = chain(&[1, 2]);
        links.push((1, None));
        assert_eq!(check(&links, &[]), Err(TreeError::DuplicateId(1)));
        let links = vec![(1, None), (2, Some(7))];
        assert_eq!(
            check(&links, &[]),
            Err(TreeError::MissingParent { id: 2, parent: 7 })
        );
        let links = vec![(1, None), (2, Some(3)), (3, Some(2)), (4, Some(4))];
        assert!(matches!(check(&links, &[]), Err(TreeError::Cycle(_))));
    }

    #[test]
    fn repair_cuts_cycles_and_dangling_parents_and_keeps_every_message() {
        let mut links = vec![
            (1, None),
            (2, Some(1)),
            (3, Some(5)),
            (5, Some(4)),
            (4, Some(3)),
            (6, Some(6)),
            (7, Some(99)),
            (8, Some(7)),
        ];
        let r = repair(&mut links);
        assert_eq!(check(&links, &[]), Ok(()));
        assert_eq!(links.len(), 8);
        assert_eq!(
            r,
            vec![
                Repair::MissingParent { id: 7, parent: 99 },
                Repair::Cycle {
                    ids: vec![3, 4, 5],
                    cut: 3
                },
                Repair::Cycle {
                    ids: vec![6],
                    cut: 6
                },
            ]
        );
        assert!(r[0].to_string().contains("separate branch"));
        let f = Forest::new(links);
        assert_eq!(f.ancestry(8), vec![7, 8]);
        assert_eq!(f.ancestry(5), vec![3, 4, 5]);
    }

    #[test]
    fn siblings_forks_and_the_newest_descent() {
        // 1 ─ 2 ─ 3 ─ 4
        //       └ 5 ─ 6        (5: a second version of 2's reply)
        //   └ 7                (7: an edited question after 1)
        let links = vec![
            (1, None),
            (2, Some(1)),
            (3, Some(2)),
            (4, Some(3)),
            (5, Some(2)),
            (6, Some(5)),
            (7, Some(1)),
        ];
        assert_eq!(check(&links, &[1, 2, 3, 4]), Ok(()));
        let f = Forest::new(links);
        assert_eq!(f.siblings(3), &[3, 5]);
        assert_eq!(f.fork(5), Fork { index: 2, count: 2 });
        assert_eq!(f.fork(1), Fork { index: 1, count: 1 });
        assert!(!f.fork(1).is_fork());
        assert_eq!(f.newest_descent(1), vec![7]);
        assert_eq!(f.newest_descent(2), vec![5, 6]);
        assert_eq!(f.path_through(3), vec![1, 2, 3, 4]);
        assert_eq!(f.newest_path(), vec![1, 7]);
        assert_eq!(f.leaves(), vec![4, 6, 7]);
        assert_eq!(f.forks().len(), 2);
        assert_eq!(f.ancestry(42), Vec::<Id>::new());
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let ids: Vec<Id> = (1..=200_000).collect();
        let f = Forest::new(chain(&ids));
        assert_eq!(f.newest_path().len(), 200_000);
        assert_eq!(f.leaves(), vec![200_000]);
    }

    /// Random links over ids 1..=n: any parent (or none), so cycles and dangling parents
    /// happen.
    fn links() -> impl Strategy<Value = Vec<(Id, Option<Id>)>> {
        (1usize..24).prop_flat_map(|n| {
            proptest::collection::vec(proptest::option::of(1u64..=(n as u64 + 3)), n).prop_map(
                |ps| {
                    ps.into_iter()
                        .enumerate()
                        .map(|(i, p)| (i as Id + 1, p))
                        .collect()
                },
            )
        })
    }

    proptest! {
        #[test]
        fn repair_always_gives_a_forest_and_is_idempotent(mut l in links()) {
            let before: Vec<Id> = l.iter().map(|(id, _)| *id).collect();
            repair(&mut l);
            prop_assert_eq!(check(&l, &[]), Ok(()));
            let after: Vec<Id> = l.iter().map(|(id, _)| *id).collect();
            prop_assert_eq!(before, after, "no message is dropped");
            let again = l.clone();
            prop_assert!(repair(&mut l).is_empty());
            prop_assert_eq!(l, again);
        }

        #[test]
        fn every_path_through_a_message_is_a_valid_chain(mut l in links()) {
            repair(&mut l);
            let f = Forest::new(l.clone());
            for (id, _) in &l {
                let p = f.path_through(*id);
                prop_assert_eq!(check(&l, &p), Ok(()));
                prop_assert!(p.contains(id));
                prop_assert!(f.children(p.last().copied()).is_empty(), "ends at a leaf");
            }
            // Every message is on exactly the branches of the leaves below it.
            let leaves = f.leaves();
            let mut seen: HashSet<Id> = HashSet::new();
            for leaf in &leaves {
                seen.extend(f.ancestry(*leaf));
            }
            prop_assert_eq!(seen.len(), l.len());
        }
    }
}
