//! Better Auth's `wildcardMatch(pattern)` (its copy of the `wildcard-match` package, default options), used for
//! wildcard trusted origins and for rate-limit `customRules` paths.
//!
//! With the default options the pattern is split at `/` and compiled to an anchored, case-sensitive regular
//! expression in which:
//! * `*` matches any run of characters other than `/` and `\` (so it does cross `.`), `?` exactly one such
//!   character, `\x` the character `x` literally (a trailing lone `\` is dropped);
//! * every `/` between two non-empty segments matches one or more of `/` or `\`, the end of the pattern admits
//!   trailing `/` or `\`, empty segments after the first are skipped, and a `**` segment matches any number of
//!   whole segments.
//!
//! Here the expression is compiled to a small NFA and run by state-set simulation (linear in the subject, no
//! backtracking blow-up on hostile input). Like JavaScript's `RegExp` without the `u` flag it works on UTF-16
//! code units.

/// One character class of the expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Literal(u16),
    /// `[^/\\]`
    NotSeparator,
    /// `[/\\]`
    Separator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Char(Class, usize),
    Split(usize, usize),
    Match,
}

/// Pieces of the expression before compilation to states.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    One(Class),
    /// `class*`
    Star(Class),
    /// `class+`
    Plus(Class),
    /// `(?:body)*`
    Group(Vec<Piece>),
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    states: Vec<State>,
    start: usize,
}

const SLASH: u16 = b'/' as u16;
const BACKSLASH: u16 = b'\\' as u16;

impl Glob {
    pub(crate) fn new(pattern: &str) -> Glob {
        let pieces = transform(pattern);
        let mut states = vec![State::Match];
        let start = compile(&pieces, 0, &mut states);
        Glob { states, start }
    }

    /// Whether the whole of `subject` matches.
    pub(crate) fn is_match(&self, subject: &str) -> bool {
        let mut current = vec![false; self.states.len()];
        let mut next = vec![false; self.states.len()];
        let mut stack = Vec::new();
        self.add(self.start, &mut current, &mut stack);
        for unit in subject.encode_utf16() {
            next.iter_mut().for_each(|s| *s = false);
            let mut any = false;
            for (index, active) in current.iter().enumerate() {
                if !active {
                    continue;
                }
                if let Some(State::Char(class, to)) = self.states.get(index) {
                    if class_matches(*class, unit) {
                        self.add(*to, &mut next, &mut stack);
                        any = true;
                    }
                }
            }
            if !any {
                return false;
            }
            std::mem::swap(&mut current, &mut next);
        }
        current.first().copied().unwrap_or(false)
    }

    /// Adds `state` and everything reachable from it without consuming input.
    fn add(&self, state: usize, set: &mut [bool], stack: &mut Vec<usize>) {
        stack.push(state);
        while let Some(s) = stack.pop() {
            if set.get(s).copied().unwrap_or(true) {
                continue;
            }
            set[s] = true;
            if let Some(State::Split(a, b)) = self.states.get(s) {
                stack.push(*b);
                stack.push(*a);
            }
        }
    }
}

fn class_matches(class: Class, unit: u16) -> bool {
    match class {
        Class::Literal(c) => c == unit,
        Class::NotSeparator => unit != SLASH && unit != BACKSLASH,
        Class::Separator => unit == SLASH || unit == BACKSLASH,
    }
}

/// `transform(pattern, separator = true)` of `wildcard-match`, producing pieces instead of regex source.
fn transform(pattern: &str) -> Vec<Piece> {
    let segments: Vec<&str> = pattern.split('/').collect();
    let mut out = Vec::new();
    for (s, segment) in segments.iter().enumerate() {
        if segment.is_empty() && s > 0 {
            continue;
        }
        let separator = if s == segments.len() - 1 {
            Some(Piece::Star(Class::Separator))
        } else if segments.get(s + 1) != Some(&"**") {
            Some(Piece::Plus(Class::Separator))
        } else {
            None
        };
        if *segment == "**" {
            if let Some(separator) = separator {
                if s != 0 {
                    out.push(separator.clone());
                }
                out.push(Piece::Group(vec![Piece::Star(Class::NotSeparator), separator]));
            }
            continue;
        }
        let units: Vec<u16> = segment.encode_utf16().collect();
        let mut c = 0;
        while c < units.len() {
            match units[c] {
                BACKSLASH => {
                    if let Some(next) = units.get(c + 1) {
                        out.push(Piece::One(Class::Literal(*next)));
                        c += 1;
                    }
                }
                0x3f => out.push(Piece::One(Class::NotSeparator)), // ?
                0x2a => out.push(Piece::Star(Class::NotSeparator)), // *
                unit => out.push(Piece::One(Class::Literal(unit))),
            }
            c += 1;
        }
        if let Some(separator) = separator {
            out.push(separator);
        }
    }
    out
}

/// Compiles `pieces` followed by the state `next`; returns the entry state.
fn compile(pieces: &[Piece], next: usize, states: &mut Vec<State>) -> usize {
    let mut entry = next;
    for piece in pieces.iter().rev() {
        entry = match piece {
            Piece::One(class) => push(states, State::Char(*class, entry)),
            Piece::Star(class) => star(states, *class, entry),
            Piece::Plus(class) => {
                let rest = star(states, *class, entry);
                push(states, State::Char(*class, rest))
            }
            Piece::Group(body) => {
                let split = push(states, State::Split(usize::MAX, entry));
                let body_entry = compile(body, split, states);
                states[split] = State::Split(body_entry, entry);
                split
            }
        };
    }
    entry
}

fn star(states: &mut Vec<State>, class: Class, next: usize) -> usize {
    let split = push(states, State::Split(usize::MAX, next));
    let char_state = push(states, State::Char(class, split));
    states[split] = State::Split(char_state, next);
    split
}

fn push(states: &mut Vec<State>, state: State) -> usize {
    states.push(state);
    states.len() - 1
}
