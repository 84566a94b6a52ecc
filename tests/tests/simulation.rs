//! The bounded simulation run on every `cargo test`: a few seeds of the whole chat
//! under faults, every invariant checked after every step (`docs/simulation.md`);
//! the same seed gives the same run; and the self-test: a deliberately broken store
//! is caught, so the invariants can fail.
//!
//! The simulation found twelve core bugs (described in `docs/simulation.md`), all
//! fixed: their seeds replay below with no violation at all.

use livechat_tests::sim::{Config, FaultRates, Report, run};

fn summary(report: &Report) -> String {
    format!(
        "seed {}: {} steps, {} handler calls, {} conversations, {} acked messages, {} known-bug findings, in {:?}; faults {:?}",
        report.seed,
        report.steps,
        report.calls,
        report.conversations,
        report.acked,
        report.violations.len() - report.new_violations().len(),
        report.elapsed,
        report.faults
    )
}

#[test]
fn a_few_seeds_of_the_chat_under_faults_keep_every_invariant() {
    let config = Config::default();
    let mut failures = Vec::new();
    for seed in 1..=4 {
        let report = run(seed, &config);
        eprintln!("{}", summary(&report));
        assert!(report.calls > report.steps, "people acted");
        assert!(report.acked > 0, "messages went through");
        assert!(
            report.faults.values().sum::<u64>() > 0,
            "faults were injected"
        );
        if !report.new_violations().is_empty() {
            failures.push(report.failure());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_few_seeds_with_a_live_queue_keep_every_invariant_and_its_order() {
    // The same world with a queue of two minutes: agents reach their limits, so
    // requests queue, are offered as slots free, lapse back to their place and
    // expire, under the same faults (`queue_order` is checked at every claim).
    // Not even a known bug's finding: seeds 2 and 4 found B13 (docs/simulation.md),
    // fixed, and B14's phrase would match a return of it.
    let config = Config {
        queue_wait_limit: Some(120),
        ..Config::default()
    };
    let mut failures = Vec::new();
    let mut queued = 0;
    for seed in 1..=4 {
        let report = run(seed, &config);
        eprintln!("{} queued {}", summary(&report), report.queued);
        queued += report.queued;
        if !report.violations.is_empty() {
            failures.push(report.failure());
        }
    }
    assert!(queued > 0, "requests were queued");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn one_seed_always_gives_the_same_run() {
    let config = Config {
        steps: 150,
        ..Config::default()
    };
    let first = run(7, &config);
    let second = run(7, &config);
    assert!(first.trace_lines > 150);
    assert_eq!(first.trace_lines, second.trace_lines);
    assert_eq!(first.trace, second.trace);
    assert_eq!(first.trace_hash, second.trace_hash);
    assert_eq!(first.faults, second.faults);
    assert_eq!(first.violations, second.violations);
}

#[test]
fn a_round_robin_cursor_written_without_its_condition_is_caught() {
    // Without faults, so that only the broken cursor can explain a violation.
    let config = Config {
        broken_cursor: true,
        rates: FaultRates::none(),
        ..Config::default()
    };
    let caught = (1..=20).find_map(|seed| {
        run(seed, &config)
            .violations
            .into_iter()
            .find(|v| v.invariant == "round_robin_fair")
            .map(|v| (seed, v))
    });
    let Some((seed, violation)) = caught else {
        panic!("the broken cursor went unnoticed in 20 seeds: round_robin_fair cannot fail");
    };
    eprintln!("seed {seed} caught the broken cursor: {}", violation.detail);
}

#[test]
fn the_same_seeds_without_the_broken_cursor_keep_round_robin_fair() {
    let config = Config {
        rates: FaultRates::none(),
        ..Config::default()
    };
    for seed in 1..=3 {
        let report = run(seed, &config);
        assert!(report.violations.is_empty(), "{}", report.failure());
    }
}

/// A seed that showed a bug now fixed runs with no violation of any kind but the
/// known bugs still open.
fn replays_clean(seed: u64) {
    replays_clean_for(seed, Config::default().steps);
}

/// [`replays_clean`] for a seed that showed its bug only in a longer run.
fn replays_clean_for(seed: u64, steps: u64) {
    let config = Config {
        steps,
        ..Config::default()
    };
    let report = run(seed, &config);
    let new: Vec<_> = report
        .violations
        .iter()
        .filter(|v| v.known.is_none())
        .collect();
    assert!(new.is_empty(), "{}", report.failure());
}

#[test]
fn b1_a_crash_after_a_state_write_leaves_something_queued_to_move_the_chat_on() {
    replays_clean(2);
}

#[test]
fn b2_an_agent_whose_connection_vanished_loses_their_chats_after_the_grace() {
    replays_clean(1);
}

#[test]
fn b3_an_agent_never_keeps_capacity_for_a_chat_that_is_not_theirs() {
    replays_clean(3);
}

#[test]
fn b4_an_agent_who_reconnects_as_the_grace_ends_is_not_shown_a_chat_that_moved_on() {
    replays_clean(78);
}

#[test]
fn b5_a_late_repair_never_ends_a_missed_request_an_agent_picked_up() {
    replays_clean(225);
    replays_clean(234);
}

#[test]
fn b6_an_agent_whose_two_tabs_go_at_once_loses_their_chats_after_the_grace() {
    replays_clean(178);
}

#[test]
fn b7_a_tab_shown_a_chat_hears_it_moved_even_when_the_routing_after_the_move_dies() {
    replays_clean(209);
}

#[test]
fn b8_an_agent_whose_lapsed_offer_lost_its_release_is_freed_before_a_pick_up() {
    replays_clean(1229);
}

#[test]
fn b9_a_disconnect_after_the_connection_record_expired_still_starts_the_grace() {
    replays_clean_for(59, 1000);
    replays_clean_for(92, 1000);
}

#[test]
fn b11_a_settle_whose_release_loses_to_an_accept_still_frees_the_agent() {
    replays_clean_for(4544, 1000);
}

#[test]
fn b12_an_agent_whose_two_tabs_go_at_once_gets_a_grace_even_when_a_disconnect_dies() {
    replays_clean_for(205, 1000);
    replays_clean_for(2274, 1000);
    replays_clean_for(5009, 1000);
}

/// Not a core bug: the simulated tab took `chat_started`'s latest page (50
/// messages) for the whole chat and never asked for the older ones; it now reads
/// them, as the inbox does (`docs/simulation.md`, seed 5132).
#[test]
fn seed_5132_a_tab_reads_the_older_pages_of_a_long_chat() {
    replays_clean_for(5132, 1000);
}
