//! "Did you mean ...?" for misspelt field names and references.

use std::collections::HashMap;

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let length = word.chars().count();
    let limit = (length / 3).clamp(1, 3);
    candidates
        .into_iter()
        // The distance is at least the difference in length: most candidates need no table.
        .filter(|c| c.chars().count().abs_diff(length) <= limit)
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// ` (did you mean "web-1"?)`, to follow an unknown name in a command's error, or nothing when
/// no candidate is close enough.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates)
        .map(|s| format!(" (did you mean {s:?}?)"))
        .unwrap_or_default()
}

/// Suggestions for many references against one long list of names (100,000 containers, 5,000
/// hosts): each distinct word is matched once, and after [`Suggester::BUDGET`] comparisons no
/// more are tried, so a spec with thousands of broken references is still reported at once.
pub struct Suggester<'a> {
    candidates: Vec<&'a str>,
    memo: HashMap<String, Option<&'a str>>,
    spent: usize,
}

impl<'a> Suggester<'a> {
    /// Comparisons of a word with a candidate before suggestions stop.
    pub const BUDGET: usize = 20_000_000;

    /// A suggester over `candidates`.
    pub fn new(candidates: impl IntoIterator<Item = &'a str>) -> Self {
        Suggester {
            candidates: candidates.into_iter().collect(),
            memo: HashMap::new(),
            spent: 0,
        }
    }

    /// The candidate closest to `word`, as [`closest`].
    pub fn closest(&mut self, word: &str) -> Option<&'a str> {
        if let Some(found) = self.memo.get(word) {
            return *found;
        }
        if self.spent + self.candidates.len() > Self::BUDGET {
            return None;
        }
        self.spent += self.candidates.len();
        let found = closest(word, self.candidates.iter().copied());
        self.memo.insert(word.to_string(), found);
        found
    }
}

/// Optimal string alignment distance: Levenshtein plus adjacent transpositions, which are the
/// commonest typo (`memroy`).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let fields = ["memory", "swap", "pids", "cpu", "disk"];
        assert_eq!(closest("memroy", fields), Some("memory"));
        assert_eq!(closest("pid", fields), Some("pids"));
        assert_eq!(closest("network", fields), None);
        assert_eq!(distance("abc", "acb"), 1);
        assert_eq!(closest("wéb", ["web", "wébs"]), Some("web"));
        let mut s = Suggester::new(fields);
        assert_eq!(s.closest("memroy"), Some("memory"));
        assert_eq!(s.closest("memroy"), Some("memory"));
        assert_eq!(s.closest("network"), None);
    }
}
