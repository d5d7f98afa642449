//! Planning a deploy for a large fleet, with no I/O: 100 hosts × 50 consumer instances each
//! (5 consumers at scale 10), half-converged (some running, some missing, some beyond scale,
//! an orphan per host). Measures reconcile for every host, the fleet-wide rolling restart
//! batches and the printed plan. Target: < 1 s. Run: `cargo bench --bench fleet_plan`.

use kafkactl::testing::{
    plan_text, reconcile, rolling_batches, Desired, HostPlan, Instance, Member, Observed,
    PlanOptions, Step,
};
use std::time::Instant;

const HOSTS: usize = 100;
const CONSUMERS: usize = 5;
const SCALE: u32 = 10;

fn main() {
    let desired: Vec<Desired> = (0..CONSUMERS)
        .map(|c| Desired {
            name: format!("consumer_{c}"),
            scale: SCALE,
        })
        .collect();
    let observed: Vec<Vec<Observed>> = (0..HOSTS)
        .map(|h| {
            let mut seen = Vec::new();
            for d in &desired {
                // Instances 1..=8 running, 12 running beyond scale, rotated per host.
                for i in (1..=8).chain([12]) {
                    seen.push(Observed {
                        instance: Instance::new(&d.name, i),
                        enabled: (i + h as u32) % 3 != 0,
                        active: true,
                        failed: false,
                    });
                }
            }
            seen.push(Observed {
                instance: Instance::new("retired", 1),
                enabled: true,
                active: true,
                failed: false,
            });
            seen
        })
        .collect();
    let options = PlanOptions {
        restart_running: true,
        prune: false,
    };
    let mut best = f64::MAX;
    let mut summary = String::new();
    for _ in 0..5 {
        let start = Instant::now();
        let plans: Vec<_> = observed
            .iter()
            .map(|seen| reconcile(&desired, seen, options))
            .collect();
        let members: Vec<Member> = plans
            .iter()
            .enumerate()
            .flat_map(|(h, p)| {
                p.instances(Step::Restart)
                    .into_iter()
                    .map(move |i| (h, i.clone()))
            })
            .collect();
        let batches = rolling_batches(&members, 5);
        let listing: Vec<(String, HostPlan<'_>)> = plans
            .iter()
            .enumerate()
            .map(|(h, p)| {
                (
                    format!("deploy@10.0.{}.{}:22", h / 250, h % 250),
                    HostPlan::Planned(p),
                )
            })
            .collect();
        let text = plan_text(&listing);
        let elapsed = start.elapsed().as_secs_f64();
        best = best.min(elapsed);
        summary = format!(
            "{} actions, {} restarts in {} batches, {} lines of plan",
            plans.iter().map(|p| p.actions.len()).sum::<usize>(),
            members.len(),
            batches.len(),
            text.lines().count()
        );
    }
    println!(
        "fleet plan: {HOSTS} hosts x {} instances: {summary}; best of 5: {:.1} ms (target < 1000 ms): {}",
        CONSUMERS as u32 * SCALE,
        best * 1000.0,
        if best < 1.0 { "PASS" } else { "MISS" }
    );
}
