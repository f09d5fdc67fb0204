//! Small helpers shared by the parsers: spelling suggestions, trimming, quoting.

/// Levenshtein distance over bytes, ASCII case ignored.
#[cfg(test)]
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    bounded_distance(&a.to_ascii_lowercase(), &b.to_ascii_lowercase(), usize::MAX)
        .unwrap_or(usize::MAX)
}

/// Levenshtein distance of two (already lowercased) strings if it is at most `limit`;
/// only the diagonal band |i - j| <= limit is computed.
fn bounded_distance(a: &str, b: &str, limit: usize) -> Option<usize> {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    let inf = limit.saturating_add(1);
    let mut prev: Vec<usize> = (0..=b.len()).map(|j| j.min(inf)).collect();
    let mut cur = vec![inf; b.len() + 1];
    for i in 1..=a.len() {
        let lo = i.saturating_sub(limit).max(1);
        let hi = i.saturating_add(limit).min(b.len());
        cur[0] = i.min(inf);
        if lo > 1 {
            cur[lo - 1] = inf;
        }
        let mut row_min = cur[0];
        for j in lo..=hi {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let v = (prev[j - 1] + cost)
                .min(prev[j] + 1)
                .min(cur[j - 1] + 1)
                .min(inf);
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if hi < b.len() {
            cur[hi + 1] = inf;
        }
        if row_min > limit {
            return None;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    Some(prev[b.len()]).filter(|&d| d <= limit)
}

/// The candidate closest to `word` (ASCII case ignored), if it is close enough to be a
/// plausible typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    if word.is_empty() || word.len() > 200 {
        return None;
    }
    let limit = match word.len() {
        0..=4 => 1,
        5..=9 => 2,
        _ => 3,
    };
    let word = word.to_ascii_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let bound = best.map_or(limit, |(bd, _)| bd.saturating_sub(1));
        let d = if c.bytes().any(|b| b.is_ascii_uppercase()) {
            bounded_distance(&word, &c.to_ascii_lowercase(), bound)
        } else {
            bounded_distance(&word, c, bound)
        };
        if let Some(d) = d {
            best = Some((d, c));
            if d == 0 {
                break;
            }
        }
    }
    best.map(|(_, c)| c)
}

/// Whitespace as LXC's config reader sees it.
pub(crate) fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | '\x0b' | '\x0c')
}

pub(crate) fn trim(s: &str) -> &str {
    s.trim_matches(is_ws)
}

/// LXC strips one pair of matching surrounding quotes from a value.
pub(crate) fn unquote(v: &str) -> &str {
    let b = v.as_bytes();
    if b.len() > 1 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// Shorten text for an error message, on a char boundary.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("sitting", "kitten"), 3);
        assert_eq!(edit_distance("abcdef", "azcdxf"), 2);
        assert_eq!(edit_distance("lxc.uts.name", "lxc.utsname"), 1);
        assert_eq!(bounded_distance("lxc.uts.name", "lxc.tty.max", 2), None);
        assert_eq!(bounded_distance("abcdef", "azcdxf", 2), Some(2));
        assert_eq!(bounded_distance("abcdef", "azcdxf", 1), None);
        assert_eq!(bounded_distance("ab", "ba", 2), Some(2));
        assert_eq!(bounded_distance("", "ab", 2), Some(2));
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("ABC", "abc"), 0);
        assert_eq!(
            closest("lxc.utsnme", ["lxc.utsname", "lxc.uts.name"]),
            Some("lxc.utsname")
        );
        assert_eq!(closest("zzzzzzzz", ["lxc.utsname"]), None);
    }

    #[test]
    fn unquoting() {
        assert_eq!(unquote("\"a b\""), "a b");
        assert_eq!(unquote("'x'"), "x");
        assert_eq!(unquote("\"x'"), "\"x'");
        assert_eq!(unquote("\""), "\"");
        assert_eq!(unquote(""), "");
    }
}
