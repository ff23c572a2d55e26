//! Coalescing: a burst of changes (an editor's temp files, a `git checkout`, a formatter over 500
//! files) becomes one batch per key once the burst goes quiet, or after `max_wait` at the latest
//! so a never-ending trickle still gets built. Pure: time is passed in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Pending {
    first: Instant,
    last: Instant,
    paths: BTreeSet<PathBuf>,
}

#[derive(Debug)]
pub struct Debouncer<K: Ord + Clone> {
    quiet: Duration,
    max_wait: Duration,
    pending: BTreeMap<K, Pending>,
}

impl<K: Ord + Clone> Debouncer<K> {
    pub fn new(quiet: Duration, max_wait: Duration) -> Debouncer<K> {
        Debouncer {
            quiet,
            max_wait,
            pending: BTreeMap::new(),
        }
    }

    pub fn push(&mut self, key: K, path: PathBuf, now: Instant) {
        let p = self.pending.entry(key).or_insert_with(|| Pending {
            first: now,
            last: now,
            paths: BTreeSet::new(),
        });
        p.last = now;
        p.paths.insert(path);
    }

    fn deadline(&self, p: &Pending) -> Instant {
        (p.last + self.quiet).min(p.first + self.max_wait)
    }

    /// The earliest moment a batch becomes due.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().map(|p| self.deadline(p)).min()
    }

    /// Batches due at `now`, removed from the pending set.
    pub fn due(&mut self, now: Instant) -> Vec<(K, Vec<PathBuf>)> {
        self.due_since(now)
            .into_iter()
            .map(|(k, paths, _)| (k, paths))
            .collect()
    }

    /// Batches due at `now`, each with the moment its first change arrived.
    pub fn due_since(&mut self, now: Instant) -> Vec<(K, Vec<PathBuf>, Instant)> {
        let ready: Vec<K> = self
            .pending
            .iter()
            .filter(|(_, p)| self.deadline(p) <= now)
            .map(|(k, _)| k.clone())
            .collect();
        ready
            .into_iter()
            .filter_map(|k| {
                let p = self.pending.remove(&k)?;
                Some((k, p.paths.into_iter().collect(), p.first))
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUIET: Duration = Duration::from_millis(150);
    const MAX: Duration = Duration::from_secs(2);

    #[test]
    fn fifty_saves_in_200ms_become_one_batch() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(QUIET, MAX);
        for i in 0..50u64 {
            let now = t0 + Duration::from_millis(i * 4);
            d.push("web", PathBuf::from(format!("src/f{}.rs", i % 7)), now);
            assert!(
                d.due(now).is_empty(),
                "nothing is due while saves keep coming"
            );
        }
        let last = t0 + Duration::from_millis(49 * 4);
        assert!(d.due(last + Duration::from_millis(100)).is_empty());
        let batches = d.due(last + QUIET);
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].1.len(), 7, "paths are deduplicated");
        assert!(d.is_empty());
    }

    #[test]
    fn keys_are_batched_separately() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(QUIET, MAX);
        d.push("web", "a".into(), t0);
        d.push("api", "b".into(), t0 + Duration::from_millis(100));
        let first = d.due(t0 + QUIET);
        assert_eq!(
            first.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            vec!["web"]
        );
        assert_eq!(
            d.next_deadline(),
            Some(t0 + Duration::from_millis(100) + QUIET)
        );
        let second = d.due(t0 + Duration::from_millis(100) + QUIET);
        assert_eq!(second[0].0, "api");
    }

    #[test]
    fn a_trickle_that_never_goes_quiet_is_flushed_after_max_wait() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(QUIET, MAX);
        let mut flushed = None;
        for i in 0..100u64 {
            let now = t0 + Duration::from_millis(i * 100);
            d.push("web", format!("f{i}").into(), now);
            if !d.due(now).is_empty() {
                flushed = Some(now - t0);
                break;
            }
        }
        assert_eq!(flushed, Some(MAX));
    }

    #[test]
    fn a_batch_says_when_its_first_change_came() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(QUIET, MAX);
        d.push("web", "a".into(), t0);
        d.push("web", "b".into(), t0 + Duration::from_millis(100));
        let batches = d.due_since(t0 + Duration::from_millis(100) + QUIET);
        assert_eq!(batches[0].2, t0);
    }
}
