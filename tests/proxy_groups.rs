//! Consumer-group behaviour through the proxy: partitioning, acks and commits, resuming,
//! per-consumer settings, batches, and the shutdown order on SIGTERM.

use crate::common;

use common::*;
use kafkactl::testing::Frame;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Consumes until `want` messages arrived or `limit` passed, acking each when `ack` is set.
fn drain(c: &mut Raw, key: &str, want: usize, ack: bool, limit: Duration) -> Vec<Msg> {
    let start = Instant::now();
    let mut got = Vec::new();
    while got.len() < want && start.elapsed() < limit {
        if let Some(m) = blpop(c, key, 1) {
            if ack {
                assert_eq!(c.cmd(&format!("RPUSH acks {}", m.ack())), Frame::Integer(1));
            }
            got.push(m);
        }
    }
    got
}

fn value_set(msgs: &[Msg]) -> HashSet<String> {
    msgs.iter()
        .map(|m| String::from_utf8(m.value.clone()).unwrap())
        .collect()
}

#[test]
fn keyed_messages_land_in_one_partition() {
    let broker = Broker::start(&["--topic", "keyed:4"]);
    let proxy = Proxy::start(&broker.bootstrap, &[]);
    let mut p = proxy.raw();
    // Eight keys, ten messages each, interleaved. With keys honoured each key's messages share
    // one partition and the keys spread over several; with keys ignored a message goes
    // wherever the partitioner puts unkeyed ones (one sticky partition for all, or any).
    let keys: Vec<String> = (0..8).map(|k| format!("user-{k}")).collect();
    for i in 0..80 {
        let key = &keys[i % keys.len()];
        p.send(&[
            b"RPUSHX",
            format!("topics:keyed:{key}").as_bytes(),
            format!("{key}/{i}").as_bytes(),
        ]);
        assert_eq!(p.read(), Some(Frame::Integer(1)));
    }
    assert_eq!(p.cmd("DUMP 5000"), Frame::Integer(0));
    let mut c = consumer(&proxy, "keyed:c1");
    let msgs = drain(&mut c, "topics:keyed", 80, true, Duration::from_secs(30));
    assert_eq!(msgs.len(), 80);
    let mut partitions_of: HashMap<String, HashSet<i64>> = HashMap::new();
    for m in &msgs {
        let value = String::from_utf8(m.value.clone()).unwrap();
        let key = value.split('/').next().unwrap().to_string();
        partitions_of.entry(key).or_default().insert(m.partition);
    }
    assert_eq!(partitions_of.len(), 8, "{partitions_of:?}");
    for (key, partitions) in &partitions_of {
        assert_eq!(partitions.len(), 1, "{key} spread over {partitions:?}");
    }
    let used: HashSet<i64> = partitions_of.values().flatten().copied().collect();
    assert!(
        used.len() >= 2,
        "every key in one partition: {partitions_of:?}"
    );
}

#[test]
fn two_consumers_of_one_group_split_the_partitions() {
    let broker = Broker::start(&["--topic", "split:4"]);
    let proxy = Proxy::start(&broker.bootstrap, &[]);
    let mut a = consumer(&proxy, "split:a");
    let mut b = consumer(&proxy, "split:b");
    // Both join before anything is produced, so each ends up owning two partitions.
    assert_eq!(blpop(&mut a, "topics:split", 1), None);
    assert_eq!(blpop(&mut b, "topics:split", 1), None);
    // Keyed, so the messages spread over all four partitions.
    let sent = values("split", 200);
    produce_spread(&proxy, "split", &sent);
    let mut got_a = Vec::new();
    let mut got_b = Vec::new();
    let start = Instant::now();
    while got_a.len() + got_b.len() < 200 && start.elapsed() < Duration::from_secs(60) {
        got_a.extend(drain(
            &mut a,
            "topics:split",
            50,
            true,
            Duration::from_secs(1),
        ));
        got_b.extend(drain(
            &mut b,
            "topics:split",
            50,
            true,
            Duration::from_secs(1),
        ));
    }
    let pa: HashSet<_> = got_a.iter().map(|m| m.partition).collect();
    let pb: HashSet<_> = got_b.iter().map(|m| m.partition).collect();
    assert!(pa.is_disjoint(&pb), "a: {pa:?} b: {pb:?}");
    assert!(!got_a.is_empty() && !got_b.is_empty());
    let all: Vec<Msg> = got_a.into_iter().chain(got_b).collect();
    assert_eq!(all.len(), 200, "each message exactly once");
    assert_eq!(value_set(&all), sent.into_iter().collect());
}

#[test]
fn a_restarted_consumer_resumes_after_its_acked_offsets() {
    let broker = Broker::start(&["--topic", "resume:1"]);
    let proxy = Proxy::start(&broker.bootstrap, &[]);
    produce(&proxy, "resume", &values("r", 10));
    {
        let mut c = consumer(&proxy, "resume:c1");
        let first = drain(&mut c, "topics:resume", 4, true, Duration::from_secs(30));
        assert_eq!(
            first.iter().map(|m| m.offset).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        // The fifth is delivered but never acked: it must come again.
        let unacked = blpop(&mut c, "topics:resume", 10).unwrap();
        assert_eq!(unacked.offset, 4);
    }
    // The same group (and even the same id, once released) picks up at offset 4.
    let mut again = proxy.raw();
    wait_for("the id to be free", Duration::from_secs(10), || {
        matches!(again.cmd("CLIENT SETNAME resume:c1"), Frame::Bulk(_))
    });
    let rest = drain(
        &mut again,
        "topics:resume",
        6,
        true,
        Duration::from_secs(30),
    );
    assert_eq!(
        rest.iter().map(|m| m.offset).collect::<Vec<_>>(),
        vec![4, 5, 6, 7, 8, 9]
    );
}

#[test]
fn without_acks_the_next_consumer_gets_the_messages_again() {
    let broker = Broker::start(&["--topic", "noack:2"]);
    let proxy = Proxy::start(&broker.bootstrap, &[]);
    let sent = values("n", 6);
    produce(&proxy, "noack", &sent);
    {
        let mut c = consumer(&proxy, "noack:c1");
        let got = drain(&mut c, "topics:noack", 6, false, Duration::from_secs(30));
        assert_eq!(value_set(&got), sent.iter().cloned().collect());
    }
    let mut c2 = consumer(&proxy, "noack:c2");
    let again = drain(&mut c2, "topics:noack", 6, true, Duration::from_secs(30));
    assert_eq!(value_set(&again), sent.into_iter().collect());
}

#[test]
fn one_blpop_consumes_several_topics() {
    let broker = Broker::start(&["--topic", "ta:1", "--topic", "tb:1"]);
    let proxy = Proxy::start(&broker.bootstrap, &[]);
    produce(&proxy, "ta", &values("a", 3));
    produce(&proxy, "tb", &values("b", 3));
    let mut c = consumer(&proxy, "multi:c1");
    let got = drain(&mut c, "topics:ta,tb", 6, true, Duration::from_secs(30));
    let topics: HashSet<_> = got.iter().map(|m| m.topic.clone()).collect();
    assert_eq!(
        topics,
        ["ta".to_string(), "tb".to_string()].into_iter().collect()
    );
    assert_eq!(got.len(), 6);
    // The consumer is bound to its topic list.
    let err = error_text(c.cmd("BLPOP topics:ta 1"));
    assert!(
        err.starts_with("CONS This connection's consumer is subscribed to ta,tb"),
        "{err}"
    );
    // Acks for a topic outside the subscription are refused.
    let err = error_text(c.cmd("RPUSH acks zz:0:1"));
    assert!(err.starts_with("CONS No consumer for topic zz"), "{err}");
}

#[test]
fn per_consumer_json_settings_apply_and_bad_ones_are_cons_errors() {
    let broker = Broker::start(&["--topic", "js:1"]);
    let proxy = Proxy::start(&broker.bootstrap, &[]);
    produce(&proxy, "js", &values("old", 3));

    let mut bad = consumer(&proxy, "js:bad");
    let err = error_text(bad.cmd(r#"BLPOP topics:js:{"auto.offset.reset": 1"#));
    assert!(
        err.starts_with("CONS Invalid JSON consumer config"),
        "{err}"
    );
    let err = error_text(bad.cmd(r#"BLPOP topics:js:{"no.such.setting":"1"} 1"#));
    assert!(
        err.starts_with("CONS no.such.setting cannot be set per consumer"),
        "{err}"
    );
    // A client cannot point its consumer at another broker, nor make the proxy load a library.
    for (key, value) in [
        ("bootstrap.servers", "127.0.0.1:1"),
        ("plugin.library.paths", "/nonexistent/libx.so"),
        ("sasl.password", "x"),
    ] {
        let line = format!(r#"BLPOP topics:js:{{"{key}":"{value}"}} 1"#);
        let err = error_text(bad.cmd(&line));
        assert!(
            err.starts_with(&format!("CONS {key} cannot be set per consumer")),
            "{err}"
        );
    }
    let err = error_text(bad.cmd(r#"BLPOP topics:js:{"fetch.max.bytes":"104857600"} 1"#));
    assert!(
        err.starts_with("CONS fetch.max.bytes \"104857600\" is not accepted per consumer"),
        "{err}"
    );
    let err = error_text(bad.cmd(r#"BLPOP topics:js:{"enable.auto.offset.store":true} 1"#));
    assert!(
        err.contains("enable.auto.offset.store cannot be overridden"),
        "{err}"
    );
    assert_eq!(bad.cmd("PING"), Frame::Simple("PONG".into()));

    // `latest` only sees what is produced after the consumer joined. It has joined once a
    // probe produced after its first BLPOP arrives (with no earlier message before it).
    let mut late = consumer(&proxy, "js:late");
    let key = r#"topics:js:{"auto.offset.reset":"latest"}"#;
    let mut probes = 0;
    let first = loop {
        assert!(probes < 60, "no probe arrived at the `latest` consumer");
        produce(&proxy, "js", &[format!("probe-{probes}")]);
        probes += 1;
        if let Some(m) = blpop(&mut late, key, 1) {
            break m;
        }
    };
    let first = String::from_utf8(first.value.clone()).unwrap();
    assert!(first.starts_with("probe-"), "`latest` saw {first}");
    // Whatever probes are left come first, then the new messages; nothing old.
    produce(&proxy, "js", &values("new", 2));
    let mut new = Vec::new();
    let start = Instant::now();
    while new.len() < 2 {
        assert!(start.elapsed() < Duration::from_secs(30), "got {new:?}");
        if let Some(m) = blpop(&mut late, key, 1) {
            let v = String::from_utf8(m.value.clone()).unwrap();
            assert!(!v.starts_with("old"), "`latest` saw {v}");
            if !v.starts_with("probe-") {
                new.push(v);
            }
        }
    }
    assert_eq!(
        new.into_iter().collect::<HashSet<_>>(),
        values("new", 2).into_iter().collect()
    );
}

#[test]
fn batch_acks_and_blmpop_batches() {
    let broker = Broker::start(&["--topic", "batch:1"]);
    let proxy = Proxy::start(&broker.bootstrap, &[]);
    produce(&proxy, "batch", &values("m", 50));
    let mut c = consumer(&proxy, "batch:c1");
    let mut got: Vec<Msg> = Vec::new();
    let start = Instant::now();
    while got.len() < 50 && start.elapsed() < Duration::from_secs(30) {
        c.send(&[
            b"BLMPOP",
            b"2",
            b"1",
            b"topics:batch",
            b"LEFT",
            b"COUNT",
            b"20",
        ]);
        match c.read().unwrap() {
            Frame::NullArray => continue,
            Frame::Array(mut items) => {
                assert_eq!(items.len(), 2);
                assert_eq!(items[0], Frame::bulk_str("topics:batch"));
                let Frame::Array(msgs) = items.remove(1) else {
                    panic!()
                };
                assert!(!msgs.is_empty() && msgs.len() <= 20);
                let batch: Vec<Msg> = msgs
                    .into_iter()
                    .map(|f| Msg::from_frame(f).unwrap())
                    .collect();
                // One RPUSH acks for the whole batch.
                let mut args: Vec<Vec<u8>> = vec![b"RPUSH".to_vec(), b"acks".to_vec()];
                args.extend(batch.iter().map(|m| m.ack().into_bytes()));
                let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
                c.send(&refs);
                assert_eq!(c.read(), Some(Frame::Integer(batch.len() as i64)));
                got.extend(batch);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        got.iter().map(|m| m.offset).collect::<Vec<_>>(),
        (0..50).collect::<Vec<_>>()
    );
    // A batch with one malformed ack stores none of them.
    let err = error_text(c.cmd("RPUSH acks batch:0:49 nonsense"));
    assert!(
        err.starts_with("CONS Cannot parse ack: 'nonsense'"),
        "{err}"
    );
    assert_eq!(
        c.cmd("BLMPOP 0 1 topics:batch LEFT COUNT 5"),
        Frame::NullArray
    );
    drop(c);
    // Everything was acked: a new member of the group finds nothing. Proven by what comes
    // first (the topic has one partition, delivered in order), not by a timeout passing: a
    // sentinel produced now is the first message the new member gets.
    produce(&proxy, "batch", &["sentinel".to_string()]);
    let mut next = consumer(&proxy, "batch:c2");
    let first = drain(&mut next, "topics:batch", 1, false, Duration::from_secs(30));
    assert_eq!(
        first
            .iter()
            .map(|m| (m.offset, String::from_utf8_lossy(&m.value).into_owned()))
            .collect::<Vec<_>>(),
        vec![(50, "sentinel".to_string())]
    );
}

/// Sends `sig` to process `pid`.
fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a child process of this test.
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
}

#[test]
fn sigterm_drains_in_the_documented_order() {
    // The dev broker, always: the test freezes it (SIGSTOP) to hold the shutdown in its first
    // stage, where the consumers' final commits wait on the broker.
    let mut broker = Broker::dev(&["--topic", "drain:1"]);
    let mut proxy = Proxy::start(&broker.bootstrap, &[]);
    produce(&proxy, "drain", &values("d", 5));

    // A consumer acks three messages, then waits in BLPOP on an empty topic.
    let mut c = consumer(&proxy, "drain:c1");
    let acked = drain(&mut c, "topics:drain", 3, true, Duration::from_secs(30));
    assert_eq!(acked.len(), 3);
    let unacked = drain(&mut c, "topics:drain", 2, false, Duration::from_secs(30));
    assert_eq!(unacked.len(), 2);
    blpop_in_flight(proxy.addr, &mut c, "topics:drain");

    // A producer-only connection queues messages right before the signal.
    let mut p = proxy.raw();
    for i in 0..1000 {
        p.send(&[b"RPUSHX", b"topics:drain", format!("late-{i}").as_bytes()]);
    }
    for _ in 0..1000 {
        assert_eq!(p.read(), Some(Frame::Integer(1)));
    }

    let broker_pid = broker.dev_proc().child.id();
    signal(broker_pid, libc::SIGSTOP);
    signal(proxy.proc.child.id(), libc::SIGTERM);
    // Stage 1: the waiting BLPOP is told to retry elsewhere...
    assert_eq!(error_text(c.read().expect("reply")), "CONS Server shutdown");
    // ...while the consumer's close waits on the frozen broker, the proxy still accepts
    // connections and serves them, producers included, but takes no new consumer.
    let mut late = proxy.raw();
    assert_eq!(late.cmd("PING"), Frame::Simple("PONG".into()));
    assert_eq!(
        error_text(late.cmd("BLPOP topics:drain 1")),
        "CONS Server shutdown",
        "a new consumer during the shutdown"
    );
    assert_eq!(p.cmd("RPUSHX topics:drain last"), Frame::Integer(1));
    assert!(
        proxy.proc.child.try_wait().unwrap().is_none(),
        "exited while a consumer was still closing:\n{}",
        proxy.proc.log_text()
    );
    // Stages 2-4 once the broker answers: the commit, then no more connections, then the
    // producer flushed; exit 0.
    signal(broker_pid, libc::SIGCONT);
    let status = proxy.proc.wait_exit(Duration::from_secs(30));
    assert!(
        status.success(),
        "exit status {status:?}:\n{}",
        proxy.proc.log_text()
    );
    assert!(c.is_closed());
    assert!(p.is_closed());
    assert!(
        std::net::TcpStream::connect(proxy.addr).is_err(),
        "still accepting after exit"
    );

    // Offsets acked before the signal were committed: the group resumes at offset 3, and the
    // producer's messages, the one sent during the shutdown included, were all delivered.
    let proxy2 = Proxy::start(&broker.bootstrap, &[]);
    let mut c2 = consumer(&proxy2, "drain:c1");
    let rest = drain(&mut c2, "topics:drain", 1003, true, Duration::from_secs(60));
    assert_eq!(rest.first().map(|m| m.offset), Some(3));
    assert_eq!(
        rest.len(),
        1003,
        "2 unacked + 1000 produced before the shutdown + 1 during it"
    );
}

/// A proxy with a consumer whose close waits on a frozen dev broker: its shutdown stays in
/// the first stage until the broker thaws or the deadline passes.
fn stuck_in_shutdown(args: &[&str]) -> (Broker, Proxy, Raw) {
    let mut broker = Broker::dev(&["--topic", "stuck:1"]);
    let proxy = Proxy::start(&broker.bootstrap, args);
    produce(&proxy, "stuck", &values("s", 1));
    let mut c = consumer(&proxy, "stuck:c1");
    assert_eq!(
        drain(&mut c, "topics:stuck", 1, true, Duration::from_secs(30)).len(),
        1
    );
    blpop_in_flight(proxy.addr, &mut c, "topics:stuck");
    signal(broker.dev_proc().child.id(), libc::SIGSTOP);
    (broker, proxy, c)
}

/// The state letter of process `pid` (`T` while stopped), for a drill's diagnostics.
fn process_state(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| Some(stat.rsplit_once(") ")?.1.chars().next()?.to_string()))
        .unwrap_or_else(|| "gone".into())
}

/// Runs a drill on a proxy whose consumer close is held by a frozen broker: `drill` signals
/// the proxy and returns its exit status and log. The freeze does not always hold the close:
/// twice in about ten runs with two suites at once, librdkafka's close finished with the
/// broker stopped (the cause is not found; the broker's state is reported). The proxy then
/// rightly stops with 0, having nothing left to wait for, and the attempt tests nothing: it
/// is made again, three times at most. An attempt whose log shows the close held (`held`)
/// is the one judged.
fn with_a_held_close(
    args: &[&str],
    held: &str,
    drill: impl Fn(&mut Proxy, &mut Raw) -> (std::process::ExitStatus, String),
) -> (std::process::ExitStatus, String) {
    for attempt in 1.. {
        let (mut broker, mut proxy, mut c) = stuck_in_shutdown(args);
        let (status, log) = drill(&mut proxy, &mut c);
        let broker_pid = broker.dev_proc().child.id();
        let state = process_state(broker_pid);
        signal(broker_pid, libc::SIGCONT);
        if status.success() && !log.contains(held) && attempt < 3 {
            eprintln!("attempt {attempt}: the close was not held (broker state {state}):\n{log}");
            continue;
        }
        return (status, log);
    }
    unreachable!()
}

#[test]
fn a_shutdown_past_its_deadline_exits_non_zero_and_a_second_signal_at_once() {
    // The deadline passes with a consumer still closing: exit 1, saying what was left.
    let deadline_passed = "consumers did not all close before the deadline";
    let (status, log) =
        with_a_held_close(&["--shutdown-timeout", "2"], deadline_passed, |proxy, c| {
            signal(proxy.proc.child.id(), libc::SIGTERM);
            assert_eq!(error_text(c.read().expect("reply")), "CONS Server shutdown");
            let status = proxy.proc.wait_exit(Duration::from_secs(60));
            (status, proxy.proc.log_text())
        });
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains(deadline_passed), "{log}");

    // A second SIGTERM during the drain exits at once with 130, the deadline far away.
    let (status, log) = with_a_held_close(
        &["--shutdown-timeout", "300"],
        "second signal",
        |proxy, c| {
            signal(proxy.proc.child.id(), libc::SIGTERM);
            assert_eq!(error_text(c.read().expect("reply")), "CONS Server shutdown");
            signal(proxy.proc.child.id(), libc::SIGTERM);
            let status = proxy.proc.wait_exit(Duration::from_secs(60));
            (status, proxy.proc.log_text())
        },
    );
    assert_eq!(status.code(), Some(130), "{log}");
    assert!(log.contains("second signal"), "{log}");
}

#[test]
fn a_four_consumer_rebalance_redelivers_at_most_one_percent() {
    // examples/proxy.dev.json's group protocol (KIP-848); tests/real_kafka.rs drains the same
    // way under each protocol on Apache Kafka.
    let broker = Broker::start(&["--topic", "reb:8"]);
    let proxy = Proxy::start(&broker.bootstrap, &[]);
    common::group_drain::drain_with_members_joining(&proxy, "reb")
        .assert_at_most_one_percent(broker.label());
}
