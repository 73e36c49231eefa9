//! Which record rows the audit trail accounts for: every row a write creates is named
//! by the audit record committed with it, and `gongti audit verify` checks that no
//! row of a record table is left unnamed.
//!
//! A record names the rows it created in its `resource_id`: one id (`"42"`), or for a
//! write that creates many rows at once (a batch of readings, the demo's bulk load) a
//! list of ids and inclusive ranges (`"40..45,47"`). [`IdSet`] collects what the
//! trail names, as ranges, so that checking millions of rows needs memory for the
//! gaps only.

use std::collections::BTreeMap;

/// Writes ids (in any order, repeats allowed) as a compact list: ascending, runs of
/// consecutive ids as `a..b`, comma-separated.
pub fn encode_ids(ids: impl IntoIterator<Item = i64>) -> String {
    let mut ids: Vec<i64> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < ids.len() {
        let start = ids[i];
        let mut end = start;
        while i + 1 < ids.len() && ids[i + 1] == end + 1 {
            i += 1;
            end = ids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if end == start {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}..{end}"));
        }
        i += 1;
    }
    out
}

/// The inclusive ranges a `resource_id` names, or `None` when it is not a list of ids
/// (a code, a UUID …, which names no record row).
pub fn parse_ids(text: &str) -> Option<Vec<(i64, i64)>> {
    let number = |s: &str| -> Option<i64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    text.split(',')
        .map(|part| match part.split_once("..") {
            Some((a, b)) => {
                let (a, b) = (number(a)?, number(b)?);
                (a <= b).then_some((a, b))
            }
            None => number(part).map(|n| (n, n)),
        })
        .collect()
}

/// A set of ids kept as disjoint inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdSet {
    /// start → end, disjoint and not adjacent.
    ranges: BTreeMap<i64, i64>,
}

impl IdSet {
    pub fn insert(&mut self, start: i64, end: i64) {
        debug_assert!(start <= end);
        let (mut start, mut end) = (start, end);
        // Merge with a range that starts at or before `start` and reaches it.
        if let Some((&s, &e)) = self.ranges.range(..=start).next_back()
            && e.saturating_add(1) >= start
        {
            start = s;
            end = end.max(e);
            self.ranges.remove(&s);
        }
        // Swallow ranges that start inside (or right after) the new one.
        while let Some((&s, &e)) = self.ranges.range(start..).next() {
            if s > end.saturating_add(1) {
                break;
            }
            end = end.max(e);
            self.ranges.remove(&s);
        }
        self.ranges.insert(start, end);
    }

    pub fn contains(&self, id: i64) -> bool {
        self.ranges
            .range(..=id)
            .next_back()
            .is_some_and(|(_, &e)| id <= e)
    }

    /// The ids of this set that `named` lacks: how many, and the first `first` of them.
    pub fn missing_from(&self, named: &IdSet, first: usize) -> (u64, Vec<i64>) {
        let mut count = 0u64;
        let mut ids = Vec::new();
        for (&start, &end) in &self.ranges {
            let mut at = start;
            // The named ranges that could overlap [start, end], in order.
            let from = named
                .ranges
                .range(..=start)
                .next_back()
                .map_or(start, |(&s, _)| s);
            for (&s, &e) in named.ranges.range(from..=end) {
                if e < at {
                    continue;
                }
                if s > at {
                    let gap_end = (s - 1).min(end);
                    count += (gap_end - at + 1) as u64;
                    ids.extend((at..=gap_end).take(first.saturating_sub(ids.len())));
                }
                at = e.saturating_add(1);
                if at > end {
                    break;
                }
            }
            if at <= end {
                count += (end - at + 1) as u64;
                ids.extend((at..=end).take(first.saturating_sub(ids.len())));
            }
        }
        (count, ids)
    }

    /// How many disjoint ranges the set holds.
    pub fn ranges(&self) -> usize {
        self.ranges.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_written_as_compact_ranges() {
        for (ids, want) in [
            (vec![], ""),
            (vec![42], "42"),
            (vec![3, 1, 2], "1..3"),
            (vec![1, 2, 3, 5, 7, 8], "1..3,5,7..8"),
            (vec![5, 5, 6], "5..6"),
        ] {
            assert_eq!(encode_ids(ids.clone()), want, "{ids:?}");
        }
    }

    #[test]
    fn id_lists_parse_and_anything_else_names_no_row() {
        for (text, want) in [
            ("42", Some(vec![(42, 42)])),
            ("1..3,5,7..8", Some(vec![(1, 3), (5, 5), (7, 8)])),
            ("3..1", None),
            ("", None),
            ("a1", None),
            ("1,,2", None),
            ("-4", None),
            ("1..", None),
            ("hypertension", None),
        ] {
            assert_eq!(parse_ids(text), want, "{text:?}");
        }
        let ids = [9, 1, 2, 3, 11, 12, 20];
        let ranges = parse_ids(&encode_ids(ids)).unwrap();
        let mut set = IdSet::default();
        for (a, b) in ranges {
            set.insert(a, b);
        }
        for id in 0..25 {
            assert_eq!(set.contains(id), ids.contains(&id), "{id}");
        }
    }

    #[test]
    fn missing_ids_are_counted_and_the_first_named() {
        let set = |ranges: &[(i64, i64)]| {
            let mut s = IdSet::default();
            for &(a, b) in ranges {
                s.insert(a, b);
            }
            s
        };
        for (have, named, want) in [
            (vec![(1, 10)], vec![(1, 10)], (0, vec![])),
            (vec![(1, 10)], vec![], (10, vec![1, 2, 3])),
            (vec![(1, 10)], vec![(3, 4), (8, 20)], (5, vec![1, 2, 5])),
            (
                vec![(1, 3), (7, 9)],
                vec![(0, 1), (8, 8)],
                (4, vec![2, 3, 7]),
            ),
            (vec![(5, 5)], vec![(1, 4), (6, 9)], (1, vec![5])),
            (vec![], vec![(1, 2)], (0, vec![])),
        ] {
            assert_eq!(
                set(&have).missing_from(&set(&named), 3),
                want,
                "{have:?} named {named:?}"
            );
        }
        // Against a brute-force count.
        let have = set(&[(1, 40), (50, 60)]);
        let named = set(&[(2, 5), (7, 7), (30, 52), (59, 100)]);
        let brute: Vec<i64> = (0..=100)
            .filter(|&i| have.contains(i) && !named.contains(i))
            .collect();
        assert_eq!(have.missing_from(&named, 100), (brute.len() as u64, brute));
    }

    #[test]
    fn ranges_merge_when_they_touch_or_overlap() {
        let mut set = IdSet::default();
        set.insert(10, 12);
        set.insert(14, 15);
        assert_eq!(set.ranges(), 2);
        set.insert(13, 13);
        assert_eq!(set.ranges(), 1);
        set.insert(1, 3);
        set.insert(2, 20);
        assert_eq!(set.ranges(), 1);
        assert!(set.contains(1) && set.contains(20) && !set.contains(21) && !set.contains(0));
        set.insert(30, 30);
        set.insert(25, 40);
        assert_eq!(set.ranges(), 2);
        assert!(set.contains(25) && set.contains(40) && !set.contains(24));
    }
}
