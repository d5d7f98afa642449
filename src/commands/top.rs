//! `kafkactl top`: a live full-screen view of the consumer instances of this machine (or of
//! `--hosts`/`--fleet`) and of their groups' lag and commit rate, refreshed every
//! `--interval` seconds, from which an instance can be restarted or stopped.
//!
//! The readings are taken by a background task (the same rows `status` prints, through the
//! same targets), so a slow or unreachable host never freezes the screen: it shows as
//! `unreachable` once its connection gives up. Keys are read on a thread of their own. The
//! terminal is restored on every way out (q, Ctrl-C, an error, a panic) by a guard.

use super::status::rows_of;
use super::{check_consumer_name, select, ssh_options, usage, Context};
use crate::cli::TopArgs;
use crate::control::output::{human_bytes, StatusRow};
use crate::fleet::FleetHost;
use crate::health::groups::{read_groups, GroupQuery};
use crate::health::window;
use crate::health::{group_queries, GroupLag};
use crate::systemd::{Scope, SystemdManager};
use crate::transport::SshOptions;
use anyhow::Result;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::crossterm::{execute, terminal};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use ratatui::Terminal;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};

/// What the screen shows: the latest reading.
#[derive(Default)]
struct Snapshot {
    rows: Vec<StatusRow>,
    /// Each consumer's total lag and commit rate (since the previous reading), or why not.
    groups: BTreeMap<String, Result<(i64, Option<f64>), String>>,
    /// Why the instances could not be read at all (this machine's manager is down).
    error: Option<String>,
    /// When it was taken.
    at: Option<String>,
}

/// The column rows are sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Instance,
    Host,
    State,
    Memory,
    Restarts,
}

impl SortKey {
    fn next(self) -> SortKey {
        match self {
            SortKey::Instance => SortKey::Host,
            SortKey::Host => SortKey::State,
            SortKey::State => SortKey::Memory,
            SortKey::Memory => SortKey::Restarts,
            SortKey::Restarts => SortKey::Instance,
        }
    }

    fn name(self) -> &'static str {
        match self {
            SortKey::Instance => "instance",
            SortKey::Host => "host",
            SortKey::State => "state",
            SortKey::Memory => "memory",
            SortKey::Restarts => "restarts",
        }
    }
}

/// Sorts rows by `key`; ties (and the instance key itself) by host, then instance.
fn sort_rows(rows: &mut [StatusRow], key: SortKey) {
    rows.sort_by(|a, b| {
        let tie = (&a.host, &a.instance).cmp(&(&b.host, &b.instance));
        let first = match key {
            SortKey::Instance => (&a.instance, &a.host).cmp(&(&b.instance, &b.host)),
            SortKey::Host => std::cmp::Ordering::Equal,
            SortKey::State => a.active_state.cmp(&b.active_state),
            SortKey::Memory => b.memory_bytes.cmp(&a.memory_bytes),
            SortKey::Restarts => b.restarts.cmp(&a.restarts),
        };
        first.then(tie)
    });
}

/// An action waiting for y/n.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Restart,
    Stop,
}

/// The screen's state between frames.
struct Screen {
    sort: SortKey,
    table: TableState,
    /// The action and the row it is about, while asking y/n.
    confirm: Option<(Action, StatusRow)>,
    /// The last thing said at the bottom (an action's outcome).
    message: String,
    with_host: bool,
}

/// Restores the terminal when dropped: raw mode off, the main screen back, the cursor shown.
struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> Result<TerminalGuard> {
        terminal::enable_raw_mode()?;
        let guard = TerminalGuard;
        execute!(std::io::stdout(), terminal::EnterAlternateScreen)?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn restore_terminal() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        terminal::LeaveAlternateScreen,
        ratatui::crossterm::cursor::Show
    );
}

/// `kafkactl top`.
pub(super) async fn top(ctx: &Context, args: &TopArgs) -> Result<u8> {
    check_consumer_name(args.consumer.as_deref())?;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(usage(
            "kafkactl top needs a terminal; to follow instances from a script or a pipe, use \
             `kafkactl status --watch` (with --lag for lag)"
                .into(),
        ));
    }
    let (manifest, hosts) = select(ctx, &args.ssh, args.fleet, false)?;
    let queries = match (args.no_lag, manifest) {
        (false, Some(manifest)) => {
            group_queries(&manifest, args.consumer.as_deref(), &args.kafka).unwrap_or_default()
        }
        _ => Vec::new(),
    };
    let with_host = hosts
        .iter()
        .any(|h| h.target != crate::target::Target::Local);
    let snapshot = Arc::new(Mutex::new(Snapshot::default()));
    let refresh = Arc::new(Notify::new());
    let reader = tokio::spawn(read_forever(
        ctx.clone(),
        hosts,
        args.ssh.clone(),
        args.consumer.clone(),
        queries,
        Duration::from_secs(args.interval),
        snapshot.clone(),
        refresh.clone(),
    ));

    // A panic must not leave the terminal in raw mode.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        default_hook(info);
    }));
    let result = {
        let _guard = TerminalGuard::enter()?;
        let screen = Screen {
            sort: SortKey::Instance,
            table: TableState::default().with_selected(Some(0)),
            confirm: None,
            message: String::new(),
            with_host,
        };
        run_screen(
            ctx.scope,
            ssh_options(&args.ssh),
            screen,
            &snapshot,
            &refresh,
        )
        .await
    };
    reader.abort();
    result.map(|()| 0)
}

/// Takes a reading every `interval` (or at once when `refresh` is notified) into `snapshot`.
#[allow(clippy::too_many_arguments)]
async fn read_forever(
    ctx: Context,
    hosts: Vec<FleetHost>,
    ssh: crate::cli::SshArgs,
    consumer: Option<String>,
    queries: Vec<GroupQuery>,
    interval: Duration,
    snapshot: Arc<Mutex<Snapshot>>,
    refresh: Arc<Notify>,
) {
    let mut previous: BTreeMap<String, (GroupLag, Instant)> = BTreeMap::new();
    loop {
        let (rows, readings) = futures::join!(
            rows_of(&ctx, hosts.clone(), &ssh, consumer.as_deref()),
            read_groups(queries.clone())
        );
        let now = Instant::now();
        let mut groups = BTreeMap::new();
        for (query, reading) in queries.iter().zip(readings) {
            let entry = match reading {
                Ok(group) => {
                    let rate = previous.get(&query.consumer).map(|(before, at)| {
                        window::classify(before, &group, now.duration_since(*at)).rate
                    });
                    let total = group.total_lag;
                    previous.insert(query.consumer.clone(), (group, now));
                    Ok((total, rate))
                }
                Err(why) => Err(why),
            };
            groups.insert(query.consumer.clone(), entry);
        }
        {
            let mut shot = snapshot.lock().expect("snapshot");
            match rows {
                Ok((rows, _)) => {
                    shot.rows = rows;
                    shot.error = None;
                }
                Err(err) => shot.error = Some(format!("{err:#}")),
            }
            shot.groups = groups;
            shot.at = Some(crate::fleet::report::timestamp());
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = refresh.notified() => {}
        }
    }
}

/// The screen's loop: draws every 200 ms and on each key, until q or Ctrl-C.
async fn run_screen(
    scope: Scope,
    ssh: SshOptions,
    mut screen: Screen,
    snapshot: &Mutex<Snapshot>,
    refresh: &Notify,
) -> Result<()> {
    let backend = ratatui::backend::CrosstermBackend::new(std::io::stdout());
    let mut term = Terminal::new(backend)?;
    term.clear()?;
    let (keys_tx, mut keys) = mpsc::channel::<KeyEvent>(16);
    // crossterm's reads block; a thread hands keys over.
    std::thread::spawn(move || loop {
        match event::poll(Duration::from_millis(100)) {
            Ok(true) => {
                if let Ok(Event::Key(key)) = event::read() {
                    if key.kind == KeyEventKind::Press && keys_tx.blocking_send(key).is_err() {
                        return;
                    }
                }
            }
            Ok(false) => {
                if keys_tx.is_closed() {
                    return;
                }
            }
            Err(_) => return,
        }
    });
    let (done_tx, mut done) = mpsc::channel::<String>(4);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        let rows = {
            let shot = snapshot.lock().expect("snapshot");
            let mut rows = shot.rows.clone();
            sort_rows(&mut rows, screen.sort);
            term.draw(|frame| draw(frame, &shot, &rows, &mut screen))?;
            rows
        };
        tokio::select! {
            _ = tick.tick() => {}
            said = done.recv() => {
                if let Some(said) = said {
                    screen.message = said;
                    refresh.notify_one();
                }
            }
            key = keys.recv() => {
                let Some(key) = key else { return Ok(()) };
                let quit = key.code == KeyCode::Char('q')
                    || (key.code == KeyCode::Char('c')
                        && key.modifiers.contains(KeyModifiers::CONTROL));
                if let Some((action, row)) = screen.confirm.take() {
                    if quit && key.code != KeyCode::Char('q') {
                        return Ok(());
                    }
                    if key.code == KeyCode::Char('y') {
                        screen.message = format!(
                            "{} {} on {}...",
                            if action == Action::Restart { "restarting" } else { "stopping" },
                            row.instance,
                            row.host
                        );
                        let (ssh, done_tx) = (ssh.clone(), done_tx.clone());
                        tokio::spawn(async move {
                            let said = act(action, &row, scope, &ssh).await;
                            let _ = done_tx.send(said).await;
                        });
                    } else {
                        screen.message = "cancelled".into();
                    }
                    continue;
                }
                if quit {
                    return Ok(());
                }
                let selected = screen.table.selected().unwrap_or(0);
                match key.code {
                    KeyCode::Down | KeyCode::Char('j') => {
                        screen.table.select(Some((selected + 1).min(rows.len().saturating_sub(1))));
                    }
                    KeyCode::Up | KeyCode::Char('k') => {
                        screen.table.select(Some(selected.saturating_sub(1)));
                    }
                    KeyCode::Char('o') => screen.sort = screen.sort.next(),
                    KeyCode::Char('r') | KeyCode::Char('s') => {
                        if let Some(row) = rows.get(selected).filter(|r| r.unit != "-") {
                            let action = if key.code == KeyCode::Char('r') {
                                Action::Restart
                            } else {
                                Action::Stop
                            };
                            screen.confirm = Some((action, row.clone()));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Restarts or stops the row's instance on its target; returns what to say.
async fn act(action: Action, row: &StatusRow, scope: Scope, ssh: &SshOptions) -> String {
    let verb = match action {
        Action::Restart => "restart",
        Action::Stop => "stop",
    };
    let systemd = match row.target.connect(scope, ssh).await {
        Ok(systemd) => systemd,
        Err(why) => return format!("{verb} {} on {}: {why}", row.instance, row.host),
    };
    let outcome = match action {
        Action::Restart => systemd.restart(&row.unit).await,
        Action::Stop => systemd.stop(&row.unit).await,
    };
    match outcome
        .map_err(|e| e.to_string())
        .and_then(|o| o.check().map_err(|e| e.to_string()))
    {
        Ok(_) => format!("{verb} {} on {}: done", row.instance, row.host),
        Err(why) => format!("{verb} {} on {}: {why}", row.instance, row.host),
    }
}

fn draw(frame: &mut ratatui::Frame, shot: &Snapshot, rows: &[StatusRow], screen: &mut Screen) {
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let hosts: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.host.as_str()).collect();
    let active = rows.iter().filter(|r| r.is_active()).count();
    let mut title = format!(
        "kafkactl top - {active} of {} instance(s) active on {} host(s) - {} - sort: {} (o)",
        rows.len(),
        hosts.len(),
        shot.at.as_deref().unwrap_or("reading..."),
        screen.sort.name()
    );
    if let Some(err) = &shot.error {
        title.push_str(&format!("\n{err}"));
    } else {
        let lag: Vec<String> = shot
            .groups
            .iter()
            .map(|(consumer, g)| match g {
                Ok((lag, Some(rate))) => format!("{consumer}: lag {lag}, {rate:.1}/s"),
                Ok((lag, None)) => format!("{consumer}: lag {lag}"),
                Err(_) => format!("{consumer}: lag unknown"),
            })
            .collect();
        title.push('\n');
        title.push_str(&lag.join("  "));
    }
    frame.render_widget(Paragraph::new(title), head);

    let mut header = vec![
        "INSTANCE", "STATE", "PID", "MEMORY", "RESTARTS", "LAG", "RATE/S", "STATUS",
    ];
    if screen.with_host {
        header.insert(0, "HOST");
    }
    let table_rows: Vec<Row> = rows
        .iter()
        .map(|r| {
            let consumer = r.instance.split(':').next().unwrap_or_default();
            let (lag, rate) = match shot.groups.get(consumer) {
                Some(Ok((lag, rate))) => (
                    lag.to_string(),
                    rate.map_or("-".to_string(), |r| format!("{r:.1}")),
                ),
                _ => ("-".into(), "-".into()),
            };
            let state_style = match r.active_state.as_str() {
                "active" => Style::default().fg(Color::Green),
                "failed" | "unreachable" => Style::default().fg(Color::Red),
                _ => Style::default().fg(Color::Yellow),
            };
            let mut cells = vec![
                Cell::from(r.instance.clone()),
                Cell::from(format!("{}/{}", r.active_state, r.sub_state)).style(state_style),
                Cell::from(r.main_pid.map_or("-".into(), |p| p.to_string())),
                Cell::from(r.memory_bytes.map_or("-".into(), human_bytes)),
                Cell::from(r.restarts.map_or("-".into(), |n| n.to_string())),
                Cell::from(lag),
                Cell::from(rate),
                Cell::from(
                    r.error
                        .clone()
                        .or_else(|| r.status_text.clone())
                        .unwrap_or_default(),
                ),
            ];
            if screen.with_host {
                cells.insert(0, Cell::from(r.host.clone()));
            }
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(22),
        Constraint::Length(20),
        Constraint::Length(8),
        Constraint::Length(10),
        Constraint::Length(9),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Min(10),
    ];
    if screen.with_host {
        widths.insert(0, Constraint::Length(24));
    }
    let table = Table::new(table_rows, widths)
        .header(Row::new(header).style(Style::default().add_modifier(Modifier::BOLD)))
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    if let Some(selected) = screen.table.selected() {
        if selected >= rows.len() && !rows.is_empty() {
            screen.table.select(Some(rows.len() - 1));
        }
    }
    frame.render_stateful_widget(table, body, &mut screen.table);

    let footer = match &screen.confirm {
        Some((action, row)) => format!(
            "{} {} on {}? (y/n)",
            if *action == Action::Restart {
                "Restart"
            } else {
                "Stop"
            },
            row.instance,
            row.host
        ),
        None if screen.message.is_empty() => {
            "up/down select   r restart   s stop   o sort   q quit".to_string()
        }
        None => format!("{}   (r restart, s stop, o sort, q quit)", screen.message),
    };
    frame.render_widget(Paragraph::new(footer), foot);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Target;

    fn row(host: &str, instance: &str, state: &str, memory: u64, restarts: u32) -> StatusRow {
        let mut r = StatusRow::unreachable(&Target::Local, String::new());
        r.host = host.into();
        r.instance = instance.into();
        r.active_state = state.into();
        r.memory_bytes = Some(memory);
        r.restarts = Some(restarts);
        r.error = None;
        r
    }

    fn order(rows: &[StatusRow]) -> Vec<String> {
        rows.iter()
            .map(|r| format!("{}@{}", r.instance, r.host))
            .collect()
    }

    #[test]
    fn rows_sort_by_the_chosen_key_then_by_host_and_instance() {
        let mut rows = vec![
            row("h2", "b:1", "active", 10, 0),
            row("h1", "b:1", "failed", 30, 5),
            row("h1", "a:1", "active", 20, 1),
        ];
        sort_rows(&mut rows, SortKey::Instance);
        assert_eq!(order(&rows), ["a:1@h1", "b:1@h1", "b:1@h2"]);
        sort_rows(&mut rows, SortKey::Host);
        assert_eq!(order(&rows), ["a:1@h1", "b:1@h1", "b:1@h2"]);
        sort_rows(&mut rows, SortKey::Memory);
        assert_eq!(order(&rows), ["b:1@h1", "a:1@h1", "b:1@h2"]);
        sort_rows(&mut rows, SortKey::Restarts);
        assert_eq!(order(&rows), ["b:1@h1", "a:1@h1", "b:1@h2"]);
        sort_rows(&mut rows, SortKey::State);
        assert_eq!(order(&rows), ["a:1@h1", "b:1@h2", "b:1@h1"]);
    }

    #[test]
    fn the_sort_key_cycles_through_every_column() {
        let mut key = SortKey::Instance;
        let mut seen = Vec::new();
        for _ in 0..5 {
            seen.push(key.name());
            key = key.next();
        }
        assert_eq!(key, SortKey::Instance);
        assert_eq!(seen, ["instance", "host", "state", "memory", "restarts"]);
    }
}
