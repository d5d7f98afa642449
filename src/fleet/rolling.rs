//! Fleet-wide rolling restarts (pure). A consumer group spans every host its consumer runs
//! on, so batches are cut across the whole fleet, not per host: batch k restarts at most
//! `batch_size` members of each consumer, and never all of a consumer's members at once when
//! it has more than one, so every group keeps a member while its others restart.

use crate::units::Instance;
use std::collections::BTreeMap;

/// One restart: which host (an index into the caller's host list) and which instance.
pub type Member = (usize, Instance);

/// Splits `restarts` (every running member to restart, across hosts) into batches run one
/// after another. Within a consumer, members are taken in instance order, hosts interleaved
/// (`a:1` on every host, then `a:2`, ...), so each host keeps its own members longest.
pub fn batches(restarts: &[Member], batch_size: usize) -> Vec<Vec<Member>> {
    let mut per_consumer: BTreeMap<&str, Vec<&Member>> = BTreeMap::new();
    for member in restarts {
        per_consumer.entry(&member.1.name).or_default().push(member);
    }
    let mut out: Vec<Vec<Member>> = Vec::new();
    for (_, mut members) in per_consumer {
        members.sort_by_key(|m| (m.1.index, m.0));
        let mut size = batch_size.max(1);
        if members.len() > 1 {
            size = size.min(members.len() - 1);
        }
        for (k, chunk) in members.chunks(size).enumerate() {
            if out.len() <= k {
                out.push(Vec::new());
            }
            out[k].extend(chunk.iter().map(|m| (*m).clone()));
        }
    }
    for batch in &mut out {
        batch.sort();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(host: usize, name: &str, index: u32) -> Member {
        (host, Instance::new(name, index))
    }

    fn show(batches: &[Vec<Member>]) -> Vec<Vec<String>> {
        batches
            .iter()
            .map(|b| b.iter().map(|(h, i)| format!("h{h} {i}")).collect())
            .collect()
    }

    #[test]
    fn one_member_per_host_is_never_restarted_everywhere_at_once() {
        // scale 1 on three hosts: a per-host plan would restart all three together.
        let restarts = [m(0, "a", 1), m(1, "a", 1), m(2, "a", 1)];
        let b = batches(&restarts, 5);
        assert_eq!(show(&b), [vec!["h0 a:1", "h1 a:1"], vec!["h2 a:1"]]);
    }

    #[test]
    fn batch_size_one_goes_member_by_member_interleaving_hosts() {
        let restarts = [m(0, "a", 1), m(0, "a", 2), m(1, "a", 1), m(1, "a", 2)];
        let b = batches(&restarts, 1);
        assert_eq!(show(&b), [["h0 a:1"], ["h1 a:1"], ["h0 a:2"], ["h1 a:2"]]);
    }

    #[test]
    fn consumers_roll_side_by_side() {
        let restarts = [m(0, "a", 1), m(1, "a", 1), m(0, "solo", 1)];
        let b = batches(&restarts, 2);
        assert_eq!(show(&b), [vec!["h0 a:1", "h0 solo:1"], vec!["h1 a:1"]]);
    }

    #[test]
    fn every_member_is_restarted_exactly_once_and_a_member_always_stays_up() {
        for size in 1..6 {
            let restarts: Vec<Member> = (0..3)
                .flat_map(|h| (1..=3).map(move |i| m(h, "a", i)))
                .chain((0..2).map(|h| m(h, "b", 1)))
                .collect();
            let b = batches(&restarts, size);
            let mut seen: Vec<Member> = b.iter().flatten().cloned().collect();
            seen.sort();
            let mut want = restarts.clone();
            want.sort();
            assert_eq!(seen, want, "size {size}");
            for batch in &b {
                for name in ["a", "b"] {
                    let total = restarts.iter().filter(|x| x.1.name == name).count();
                    let here = batch.iter().filter(|x| x.1.name == name).count();
                    assert!(here < total, "size {size}: all of {name} at once");
                    assert!(here <= size);
                }
            }
        }
    }

    #[test]
    fn nothing_to_restart_is_no_batch() {
        assert!(batches(&[], 3).is_empty());
    }
}
