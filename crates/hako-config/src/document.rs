//! A lossless config document: one file, every byte kept, so hako can rewrite a user's
//! config (set a key, randomise MAC addresses, upgrade legacy keys) without touching their
//! comments, blank lines, order or spacing.

use std::path::{Path, PathBuf};

use crate::keys::{self, Legacy};
use crate::net::random_bytes;
use crate::util::{is_ws, shorten, unquote};
use crate::{ConfigError, Origin};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    /// the line as written, including its line break (if any)
    text: String,
    /// for `key = value` lines: where key and value sit in `text`
    entry: Option<(Span, Span)>,
}

impl Line {
    fn key(&self) -> Option<&str> {
        self.entry.map(|(k, _)| &self.text[k.start..k.end])
    }
    fn raw_value(&self) -> Option<&str> {
        self.entry.map(|(_, v)| &self.text[v.start..v.end])
    }

    /// Replace the value, keeping everything around it.
    fn set_value(&mut self, value: &str) {
        let Some((k, v)) = self.entry else { return };
        let mut start = v.start;
        let mut insert = String::new();
        // "key =" or "key=" with an empty value: follow the spacing used before the '='
        if v.start == v.end && self.text[..v.start].ends_with('=') && !value.is_empty() {
            let before_eq = &self.text[..v.start - 1];
            if before_eq.ends_with([' ', '\t']) {
                insert.push(' ');
            }
        }
        insert.push_str(value);
        self.text = format!("{}{}{}", &self.text[..start], insert, &self.text[v.end..]);
        start += insert.len() - value.len();
        self.entry = Some((
            k,
            Span {
                start,
                end: start + value.len(),
            },
        ));
    }

    /// Replace the key, keeping everything around it.
    fn set_key(&mut self, key: &str) {
        let Some((k, v)) = self.entry else { return };
        self.text = format!("{}{}{}", &self.text[..k.start], key, &self.text[k.end..]);
        let delta = key.len() as isize - (k.end - k.start) as isize;
        let shift = |x: usize| (x as isize + delta) as usize;
        self.entry = Some((
            Span {
                start: k.start,
                end: k.start + key.len(),
            },
            Span {
                start: shift(v.start),
                end: shift(v.end),
            },
        ));
    }
}

/// One config file, kept byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    origin: PathBuf,
    lines: Vec<Line>,
}

fn parse_line(text: String, origin: &Path, number: usize) -> Result<Line, ConfigError> {
    let content = text.strip_suffix('\n').unwrap_or(&text);
    let lead = content.len() - content.trim_start_matches(is_ws).len();
    let body = &content[lead..];
    if body.is_empty() || body.starts_with('#') {
        return Ok(Line { text, entry: None });
    }
    let syntax = |reason: &str| ConfigError::Syntax {
        origin: Origin {
            file: origin.to_path_buf(),
            line: number,
        },
        text: shorten(body.trim_end_matches(is_ws), 80),
        reason: reason.to_string(),
    };
    let Some(eq) = content.find('=') else {
        return Err(syntax("there is no \"=\""));
    };
    let key_part = &content[..eq];
    let ks = key_part.len() - key_part.trim_start_matches(is_ws).len();
    let ke = key_part.trim_end_matches(is_ws).len();
    if ks >= ke {
        return Err(syntax("there is no key before \"=\""));
    }
    let val_part = &content[eq + 1..];
    let vs = eq + 1 + (val_part.len() - val_part.trim_start_matches(is_ws).len());
    let ve = (eq + 1 + val_part.trim_end_matches(is_ws).len()).max(vs);
    Ok(Line {
        entry: Some((Span { start: ks, end: ke }, Span { start: vs, end: ve })),
        text,
    })
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ").trim_matches(is_ws).to_string()
}

impl Document {
    /// An empty document that will be written to `origin`.
    pub fn new(origin: &Path) -> Document {
        Document {
            origin: origin.to_path_buf(),
            lines: Vec::new(),
        }
    }

    /// Parse a file's text. The only syntax error is a non-comment, non-blank line
    /// without `=` (or with nothing before it); keys and values are not checked here.
    pub fn parse(text: &str, origin: &Path) -> Result<Document, ConfigError> {
        let mut lines = Vec::new();
        for (i, l) in text.split_inclusive('\n').enumerate() {
            lines.push(parse_line(l.to_string(), origin, i + 1)?);
        }
        Ok(Document {
            origin: origin.to_path_buf(),
            lines,
        })
    }

    /// Read (a regular file of at most [`crate::read::CONFIG_LIMIT`]) and parse a file.
    pub fn load(path: &Path) -> Result<Document, ConfigError> {
        let text =
            crate::read::read_bounded_text(path, crate::read::CONFIG_LIMIT).map_err(|source| {
                ConfigError::Io {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        Document::parse(&text, path)
    }

    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// The text; byte-identical to the parsed input when nothing was changed.
    pub fn render(&self) -> String {
        let mut s = String::with_capacity(self.lines.iter().map(|l| l.text.len()).sum());
        for l in &self.lines {
            s.push_str(&l.text);
        }
        s
    }

    /// Value of the last `key` line (surrounding quotes removed, as LXC reads it).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.lines
            .iter()
            .rev()
            .find(|l| l.key() == Some(key))
            .and_then(|l| l.raw_value())
            .map(unquote)
    }

    /// Values of every `key` line, in order.
    pub fn get_all(&self, key: &str) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|l| l.key() == Some(key))
            .filter_map(|l| l.raw_value())
            .map(unquote)
            .collect()
    }

    /// Set `key`: rewrite its last line in place (dropping earlier lines of a
    /// single-valued key), or append a line if the key is absent. Line breaks in
    /// `value` are replaced by spaces.
    pub fn set(&mut self, key: &str, value: &str) {
        let value = one_line(value);
        let idx: Vec<usize> = (0..self.lines.len())
            .filter(|&i| self.lines[i].key() == Some(key))
            .collect();
        let Some(&last) = idx.last() else {
            self.append(key, &value);
            return;
        };
        self.lines[last].set_value(&value);
        if !keys::is_multi_valued(key) {
            for &i in idx[..idx.len() - 1].iter().rev() {
                self.lines.remove(i);
            }
        }
    }

    /// Add `key = value` as a new last line.
    pub fn append(&mut self, key: &str, value: &str) {
        let (key, value) = (one_line(key), one_line(value));
        if let Some(last) = self.lines.last_mut() {
            if !last.text.ends_with('\n') {
                last.text.push('\n');
            }
        }
        let text = if value.is_empty() {
            format!("{key} =\n")
        } else {
            format!("{key} = {value}\n")
        };
        let ks = Span {
            start: 0,
            end: key.len(),
        };
        let vstart = if value.is_empty() {
            key.len() + 2
        } else {
            key.len() + 3
        };
        let vs = Span {
            start: vstart,
            end: vstart + value.len(),
        };
        self.lines.push(Line {
            text,
            entry: Some((ks, vs)),
        });
    }

    /// Remove every `key` line; returns how many were removed.
    pub fn unset(&mut self, key: &str) -> usize {
        let before = self.lines.len();
        self.lines.retain(|l| l.key() != Some(key));
        before - self.lines.len()
    }

    /// Remove every `key = value` line for which `drop(key, value)` (value unquoted) is
    /// true; returns how many were removed. Comments and other lines stay as they are.
    pub fn remove_where(&mut self, mut drop: impl FnMut(&str, &str) -> bool) -> usize {
        let before = self.lines.len();
        self.lines.retain(|l| match (l.key(), l.raw_value()) {
            (Some(k), Some(v)) => !drop(k, unquote(v)),
            _ => true,
        });
        before - self.lines.len()
    }

    /// Every `key = value` line, in order (values unquoted).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.lines
            .iter()
            .filter_map(|l| Some((l.key()?, unquote(l.raw_value()?))))
    }

    /// Every `key = value` line with its 1-based line number.
    pub fn entries_with_lines(&self) -> impl Iterator<Item = (usize, &str, &str)> {
        self.lines
            .iter()
            .enumerate()
            .filter_map(|(i, l)| Some((i + 1, l.key()?, unquote(l.raw_value()?))))
    }
}

// ---------------------------------------------------------------------------------------
// MAC address templates

fn is_hwaddr_key(key: &str) -> bool {
    if key == "lxc.network.hwaddr" {
        return true;
    }
    let rest = key
        .strip_prefix("lxc.net.")
        .or_else(|| key.strip_prefix("lxc.network."));
    match rest.and_then(|r| r.split_once('.')) {
        Some((idx, "hwaddr")) => !idx.is_empty() && idx.bytes().all(|b| b.is_ascii_digit()),
        _ => false,
    }
}

/// Fill the `x` digits of a MAC template. `None` if `v` is not a template.
/// The second digit, when random, is one of 2, 6, a, e: unicast and locally administered.
fn fill_hwaddr(v: &str) -> Option<String> {
    let b = v.as_bytes();
    if b.len() != 17 {
        return None;
    }
    for (i, &c) in b.iter().enumerate() {
        let ok = if i % 3 == 2 {
            c == b':'
        } else {
            c.is_ascii_hexdigit() || c == b'x' || c == b'X'
        };
        if !ok {
            return None;
        }
    }
    if !b.iter().any(|&c| c == b'x' || c == b'X') {
        return None;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    const LOCAL_UNICAST: &[u8; 4] = b"26ae";
    let mut out = v.to_string();
    for _ in 0..8 {
        let mut rnd = [0u8; 12];
        random_bytes(&mut rnd);
        let mut s = Vec::with_capacity(17);
        let mut nibble = 0;
        for (i, &c) in b.iter().enumerate() {
            if i % 3 == 2 {
                s.push(b':');
                continue;
            }
            s.push(match c {
                b'x' | b'X' if nibble == 1 => LOCAL_UNICAST[usize::from(rnd[nibble] & 3)],
                b'x' | b'X' => HEX[usize::from(rnd[nibble] & 15)],
                _ => c,
            });
            nibble += 1;
        }
        out = String::from_utf8(s).unwrap_or_default();
        // an all-zero address is invalid; draw again (only possible with 00 fixed up front)
        if out.bytes().any(|c| c != b'0' && c != b':') {
            break;
        }
    }
    Some(out)
}

/// Replace every `x` digit of every `lxc.net.N.hwaddr` (and legacy `lxc.network[.N].hwaddr`)
/// value with a random hex digit, keeping the user's fixed digits. A random second digit is
/// chosen so the address is unicast and locally administered.
pub fn randomize_hwaddrs(doc: &mut Document) {
    for line in &mut doc.lines {
        let (Some(key), Some(raw)) = (line.key(), line.raw_value()) else {
            continue;
        };
        if !is_hwaddr_key(key) {
            continue;
        }
        let inner = unquote(raw);
        let Some(filled) = fill_hwaddr(inner) else {
            continue;
        };
        let new = if inner.len() != raw.len() {
            format!("{}{}{}", &raw[..1], filled, &raw[..1])
        } else {
            filled
        };
        line.set_value(&new);
    }
}

// ---------------------------------------------------------------------------------------
// legacy upgrade

/// Rewrite pre-3.0 keys in place (comments, order and spacing kept): renamed keys get
/// their new names, `lxc.network.*` blocks without an index become `lxc.net.N.*` with
/// N counting up from the highest index already used, dropped keys (`lxc.rootfs.backend`,
/// `lxc.pivotdir`, `lxc.kmsg`) are removed. Returns the number of lines changed or removed.
pub fn upgrade_document(doc: &mut Document) -> usize {
    let mut next: u32 = doc
        .lines
        .iter()
        .filter_map(|l| keys::any_net_index(l.key()?))
        .max()
        .map_or(0, |m| m.saturating_add(1));
    let mut cur: Option<u32> = None;
    let mut changed = 0;
    let mut remove = Vec::new();
    for (i, line) in doc.lines.iter_mut().enumerate() {
        let (Some(key), Some(value)) = (line.key(), line.raw_value()) else {
            continue;
        };
        let value_empty = value.is_empty();
        let new_key = match keys::legacy(key) {
            None => continue,
            Some(Legacy::Drop) => {
                remove.push(i);
                changed += 1;
                continue;
            }
            Some(Legacy::Rename(new)) => {
                if new == "lxc.net" {
                    cur = None;
                }
                new
            }
            Some(Legacy::NetUnindexed(sub)) => {
                if sub == "type" {
                    if value_empty {
                        // an empty legacy type cleared every interface
                        cur = None;
                        line.set_key("lxc.net");
                        changed += 1;
                        continue;
                    }
                    cur = Some(next);
                    next = next.saturating_add(1);
                }
                match cur {
                    Some(n) => format!("lxc.net.{n}.{sub}"),
                    // a network key before any lxc.network.type: nothing to attach it to
                    None => continue,
                }
            }
        };
        line.set_key(&new_key);
        changed += 1;
    }
    for i in remove.into_iter().rev() {
        doc.lines.remove(i);
    }
    changed
}

#[cfg(test)]
mod remove_tests {
    use super::Document;
    use std::path::Path;

    #[test]
    fn remove_where_drops_only_the_matching_lines() {
        let text = "# keep me\nlxc.mount.entry = /a a none bind 0 0\nlxc.mount.entry = \"/b b none bind 0 0\"\nlxc.uts.name = x\n";
        let mut d = Document::parse(text, Path::new("/c")).unwrap();
        let n = d.remove_where(|k, v| k == "lxc.mount.entry" && v.starts_with("/b "));
        assert_eq!(n, 1);
        assert_eq!(
            d.render(),
            "# keep me\nlxc.mount.entry = /a a none bind 0 0\nlxc.uts.name = x\n"
        );
        assert_eq!(d.remove_where(|_, _| false), 0);
    }
}
