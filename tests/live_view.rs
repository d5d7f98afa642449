//! The operator's live views on the systemd user manager: `kafkactl top` driven in a real
//! terminal (tmux: send-keys, capture-pane), and `status --watch`. The instances run the
//! fake worker (they need no broker), under the user manager's lock like every test that
//! starts units.

use crate::common;

use common::user_manager::{lock, use_fake_worker};
use common::{kafkactl, output_text, wait_for};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// A manifest with `topview` at scale 2, its units installed with the fake worker.
struct Rig {
    dir: tempfile::TempDir,
}

impl Rig {
    fn new() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("kafka_consumers.yml"),
            "app: toptest\nconsumers:\n  - name: topview\n    topic: t\n    scale: 2\n    \
             command: [python3, handler.py]\n",
        )
        .unwrap();
        let rig = Rig { dir };
        let out = rig.run(&["install-units", "--force", "--proxy-config", "/dev/null"]);
        assert!(out.status.success(), "{}", output_text(&out));
        use_fake_worker();
        rig
    }

    fn manifest(&self) -> PathBuf {
        self.dir.path().join("kafka_consumers.yml")
    }

    fn command(&self) -> Command {
        let mut command = Command::new(kafkactl());
        command.arg("--user").arg("-f").arg(self.manifest());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = self.run(&["disable-and-stop", "-c", "topview"]);
    }
}

fn main_pid(unit: &str) -> String {
    let out = Command::new("systemctl")
        .args(["--user", "show", "-p", "MainPID", "--value", unit])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A tmux server of its own (`-L`), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start() -> Tmux {
        let tmux = Tmux {
            socket: format!("kafkactl-test-{}", std::process::id()),
        };
        let ok = tmux
            .cmd(&[
                "new-session",
                "-d",
                "-s",
                "top",
                "-x",
                "160",
                "-y",
                "40",
                "sh",
                "-c",
                "exec bash --norc --noprofile",
            ])
            .status
            .success();
        assert!(ok, "tmux new-session failed");
        tmux
    }

    fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is installed by scripts/deps.sh")
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "top"];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status.success());
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "top"]).stdout).into_owned()
    }

    fn wait_for_screen(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let limit = Duration::from_secs(60);
        let start = std::time::Instant::now();
        loop {
            let last = self.screen();
            if cond(&last) {
                return last;
            }
            assert!(
                start.elapsed() < limit,
                "timed out waiting for {what}; screen:\n{last}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

fn shell_word(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

#[test]
fn top_shows_the_instances_restarts_one_after_a_yes_and_gives_the_terminal_back() {
    let _lock = lock();
    let rig = Rig::new();
    let out = rig.run(&["spawn", "-c", "topview"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let unit = "kafka-consumer@topview:1.service";
    let before = main_pid(unit);
    assert_ne!(before, "0");

    let tmux = Tmux::start();
    let command = format!(
        "{} --user -f {} top --interval 1 --no-lag",
        shell_word(&kafkactl()),
        shell_word(&rig.manifest())
    );
    tmux.keys(&[&command, "Enter"]);
    let screen = tmux.wait_for_screen("both instances on screen", |s| {
        s.contains("topview:1")
            && s.contains("topview:2")
            && s.contains("2 of 2 instance(s) active")
    });
    assert!(screen.contains("active/running"), "{screen}");
    assert!(screen.contains("r restart"), "{screen}");

    // The first row (sorted by instance) is topview:1; r asks, n cancels, r then y restarts.
    tmux.keys(&["r"]);
    tmux.wait_for_screen("the question", |s| {
        s.contains("Restart topview:1 on localhost? (y/n)")
    });
    tmux.keys(&["n"]);
    tmux.wait_for_screen("cancelled", |s| s.contains("cancelled"));
    assert_eq!(main_pid(unit), before, "n must not restart");
    tmux.keys(&["r"]);
    tmux.wait_for_screen("the question", |s| s.contains("(y/n)"));
    tmux.keys(&["y"]);
    tmux.wait_for_screen("the restart's outcome", |s| {
        s.contains("restart topview:1 on localhost: done")
    });
    let after = main_pid(unit);
    assert!(
        after != before && after != "0",
        "MainPID {before} -> {after}"
    );

    // q leaves the alternate screen and gives the shell back.
    tmux.keys(&["q"]);
    wait_for("top to exit", Duration::from_secs(30), || {
        String::from_utf8_lossy(
            &tmux
                .cmd(&["display", "-p", "-t", "top", "#{alternate_on}"])
                .stdout,
        )
        .trim()
            == "0"
    });
    tmux.keys(&["echo usable-$((40+2))", "Enter"]);
    tmux.wait_for_screen("the shell to answer", |s| s.contains("usable-42"));
}

#[test]
fn top_refuses_without_a_terminal_and_points_at_status_watch() {
    let rig = Rig {
        dir: tempfile::tempdir().unwrap(),
    };
    std::fs::write(rig.manifest(), "- name: a\n").unwrap();
    let out = rig
        .command()
        .arg("top")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("kafkactl status --watch"),
        "{}",
        output_text(&out)
    );
    std::mem::forget(rig); // nothing was started: no disable-and-stop on the way out
}

#[test]
fn status_watch_reprints_until_ctrl_c() {
    use std::io::BufRead;
    let _lock = lock();
    let rig = Rig::new();
    let out = rig.run(&["spawn", "-c", "topview"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let mut child = rig
        .command()
        .args(["status", "--watch", "1", "-c", "topview"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded: if the rounds never show, the watch is killed and the reading below fails
    // instead of waiting for ever.
    let (done, stop_guard) = std::sync::mpsc::channel::<()>();
    let pid = child.id() as i32;
    let guard = std::thread::spawn(move || {
        if stop_guard.recv_timeout(Duration::from_secs(120)).is_err() {
            // SAFETY: signalling our own child, which has not been waited for yet.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut rounds = 0;
    let mut seen = String::new();
    while rounds < 3 {
        let line = lines.next().expect("output ended").unwrap();
        if line.starts_with("every 1 s: kafkactl status") {
            rounds += 1;
        }
        seen.push_str(&line);
        seen.push('\n');
    }
    done.send(()).unwrap();
    guard.join().unwrap();
    // SAFETY: signalling our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{seen}");
    assert!(seen.matches("topview:2").count() >= 2, "{seen}");
    assert!(
        !seen.contains('\u{1b}'),
        "no screen clearing into a pipe: {seen}"
    );
}
