//! Turning runs into a table: the median of each figure per server, and the ratio Partyline ÷
//! reference per pair (median, min, max), plus the goals.

use std::fmt::Write as _;

use serde::Serialize;

use crate::runner::{Kind, Metrics, Scenario, Work};

/// One run's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Scenario name.
    pub scenario: String,
    /// Server.
    pub kind: Kind,
    /// Pair number (0-based).
    pub pair: usize,
    /// Machine busy cores (over a second) before the pair started.
    pub busy_before: Option<f64>,
    /// Figures; empty when the run failed.
    pub metrics: Metrics,
    /// The first error a member saw, or why the run failed.
    pub note: Option<String>,
}

/// The figures shown for a scenario: metric key, label.
fn figures(work: &Work) -> &'static [(&'static str, &'static str)] {
    match work {
        Work::Idle { .. } => &[
            ("rss_per_member_b", "RSS per member after the hold, B"),
            ("rss_per_member_joined_b", "RSS per member right after the joins, B"),
            ("ping_ms_p99", "ping p99, ms"),
            ("held", "members held (joined, never closed)"),
            ("all_views_ms", "joins: every list complete, ms"),
        ],
        Work::Storm => &[
            ("all_views_ms", "every member in every list, ms"),
            ("all_joined_ms", "every member welcomed, ms"),
            ("join_ms_p99", "join (connect→welcome) p99, ms"),
            ("views_complete", "members with a complete list"),
            ("join_cpu_ms", "server CPU for the joins, ms"),
        ],
        Work::Steady { .. } => &[
            ("cpu_us_per_delivery", "server CPU per delivery, µs"),
            ("latency_ms_p50", "delivery latency p50, ms"),
            ("latency_ms_p99", "delivery latency p99, ms"),
            ("reach_all_ms_p99", "time to reach all N, p99, ms"),
            ("delivered_ratio", "delivered ÷ expected"),
            ("ping_ms_p99", "ping p99, ms"),
            ("rss_per_member_b", "RSS per member, B"),
        ],
        Work::Burst { .. } => &[
            ("deliveries_per_s", "deliveries per second"),
            ("deliveries_per_cpu_s", "deliveries per server CPU-second"),
            ("cpu_us_per_delivery", "server CPU per delivery, µs"),
            ("server_cores", "server busy, cores"),
            ("latency_ms_p99", "delivery latency p99, ms"),
            ("delivered_ratio", "delivered ÷ expected"),
            ("generator_cores", "load generator busy, cores"),
        ],
        Work::Flood { .. } => &[
            ("ping_before_ms_p99", "others' ping p99 before the flood, ms"),
            ("ping_ms_p99", "others' ping p99 during the flood, ms"),
            ("pings_lost", "others' pings lost during the flood"),
            ("flood_server_cores", "server busy during the flood, cores"),
            ("flood_rss_growth_kb", "server RSS growth over the flood, kB"),
            ("flood_rss_peak_growth_kb", "server RSS peak growth, kB"),
            ("flood_sent", "frames the flooder wrote"),
            ("flood_answered", "frames the server answered"),
            ("flood_connections", "flooder connections (closed and back)"),
        ],
    }
}

fn median(values: &mut Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 })
}

/// A number for a table: three significant figures, k and M for large ones.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1} k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a == 0.0 {
        "0".into()
    } else {
        format!("{v:.3}")
    }
}

fn value(records: &[Record], scenario: &str, kind: Kind, key: &str) -> Vec<(usize, f64)> {
    records
        .iter()
        .filter(|r| r.scenario == scenario && r.kind == kind)
        .filter_map(|r| r.metrics.get(key).map(|v| (r.pair, *v)))
        .collect()
}

/// Median of a figure over the pairs.
pub fn median_of(records: &[Record], scenario: &str, kind: Kind, key: &str) -> Option<f64> {
    median(&mut value(records, scenario, kind, key).into_iter().map(|(_, v)| v).collect::<Vec<_>>())
}

/// Partyline ÷ `other` per pair: (median, min, max).
pub fn ratio_of(records: &[Record], scenario: &str, other: Kind, key: &str) -> Option<(f64, f64, f64)> {
    pair_ratios(&value(records, scenario, Kind::Partyline, key), &value(records, scenario, other, key))
}

/// `a ÷ b` for each pair both have a figure for: (median, min, max).
fn pair_ratios(a: &[(usize, f64)], b: &[(usize, f64)]) -> Option<(f64, f64, f64)> {
    let mut ratios: Vec<f64> = a
        .iter()
        .filter_map(|(pair, x)| b.iter().find(|(p, _)| p == pair).map(|(_, y)| x / y))
        .filter(|r| r.is_finite())
        .collect();
    let med = median(&mut ratios)?;
    let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let max = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some((med, min, max))
}

/// The Markdown table of every scenario.
pub fn table(scenarios: &[Scenario], kinds: &[Kind], records: &[Record]) -> String {
    let others: Vec<Kind> = kinds.iter().copied().filter(|k| *k != Kind::Partyline).collect();
    let mut out = String::new();
    let mut header = String::from("| scenario | figure |");
    let mut rule = String::from("| --- | --- |");
    for kind in kinds {
        let _ = write!(header, " {} |", kind.name());
        rule.push_str(" ---: |");
    }
    if kinds.contains(&Kind::Partyline) {
        for other in &others {
            let _ = write!(header, " partyline ÷ {} |", other.name());
            rule.push_str(" ---: |");
        }
    }
    let _ = writeln!(out, "{header}\n{rule}");
    for scenario in scenarios {
        if !records.iter().any(|r| r.scenario == scenario.name) {
            continue;
        }
        for (key, label) in figures(&scenario.work) {
            let mut row = format!("| {} | {label} |", scenario.name);
            for kind in kinds {
                let cell = median_of(records, &scenario.name, *kind, key).map_or("".into(), num);
                let _ = write!(row, " {cell} |");
            }
            if kinds.contains(&Kind::Partyline) {
                for other in &others {
                    let cell = match ratio_of(records, &scenario.name, *other, key) {
                        Some((med, min, max)) if (max - min).abs() > 1e-9 => {
                            format!("{} ({}–{})", num(med), num(min), num(max))
                        }
                        Some((med, _, _)) => num(med),
                        None => String::new(),
                    };
                    let _ = write!(row, " {cell} |");
                }
            }
            let _ = writeln!(out, "{row}");
        }
    }
    out
}

/// The goals, each with its verdict (reported, never asserted).
pub fn goals(records: &[Record]) -> String {
    let mut out = String::new();
    let mut line = |goal: &str, figure: Option<String>, met: Option<bool>| {
        let verdict = match met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "not measured",
        };
        let _ = writeln!(out, "| {goal} | {} | {verdict} |", figure.unwrap_or_else(|| "–".into()));
    };
    // Issue 17's goals, as it words them.
    let ratio = |r: Option<(f64, f64, f64)>| r.map(|(m, lo, hi)| format!("{}× ({}–{})", num(m), num(lo), num(hi)));
    let node_rss = median_of(records, "idle-1k", Kind::WsNode, "rss_per_member_b");
    for (scenario, wire) in [("idle-1k", "partyline/1"), ("idle-1k-v1.0", "1.0")] {
        let ours = median_of(records, scenario, Kind::Partyline, "rss_per_member_b");
        let both = ours.zip(node_rss);
        line(
            &format!("idle RSS per {wire} member at N = 1,000 ≤ 0.8× Node ws (medians)"),
            both.map(|(o, n)| format!("{} B ÷ {} B = {}×", num(o), num(n), num(o / n))),
            both.map(|(o, n)| o <= 0.8 * n),
        );
    }
    let held = median_of(records, "idle-10k", Kind::Partyline, "held");
    let lists = median_of(records, "idle-10k", Kind::Partyline, "all_views_ms");
    let p99 = median_of(records, "idle-10k", Kind::Partyline, "ping_ms_p99");
    let rss = median_of(records, "idle-10k", Kind::Partyline, "rss_per_member_b");
    line(
        "10,000 held, every list complete, ping p99 < 20 ms, RSS per member ≤ 8 KB",
        held.map(|h| {
            let lists = lists.map_or("lists incomplete".into(), |t| format!("lists complete in {} ms", num(t)));
            format!(
                "{} held, {lists}, p99 {} ms, {} B",
                num(h),
                p99.map_or("–".into(), num),
                rss.map_or("–".into(), num)
            )
        }),
        held.map(|h| {
            h >= 10_000.0 && lists.is_some() && p99.is_some_and(|p| p < 20.0) && rss.is_some_and(|r| r <= 8192.0)
        }),
    );
    let t = median_of(records, "join-storm-1k", Kind::Partyline, "all_views_ms");
    let views = median_of(records, "join-storm-1k", Kind::Partyline, "views_complete");
    line(
        "join storm: 1,000 at once, every member in every list in < 1 s, none closed",
        views.map(|v| format!("{} ms, {} complete lists", t.map_or("–".into(), num), num(v))),
        views.map(|v| v >= 1000.0 && t.is_some_and(|t| t < 1000.0)),
    );
    line(
        "10,000 at the bench's join concurrency, every list complete in < 15 s",
        held.map(|h| {
            format!("{} held, {}", num(h), lists.map_or("lists incomplete".into(), |t| format!("{} ms", num(t))))
        }),
        held.map(|h| h >= 10_000.0 && lists.is_some_and(|t| t < 15_000.0)),
    );
    let burst = "burst-1kx1k-128B";
    let r = ratio_of(records, burst, Kind::Bare, "deliveries_per_cpu_s");
    line("burst at N = 1,000: deliveries per server CPU-second ≥ 0.9× bare", ratio(r), r.map(|(m, _, _)| m >= 0.9));
    let r = ratio_of(records, burst, Kind::WsNode, "deliveries_per_cpu_s");
    line("… ≥ 15× Node ws", ratio(r), r.map(|(m, _, _)| m >= 15.0));
    let r = ratio_of(records, "steady-1k-128B", Kind::Bare, "cpu_us_per_delivery");
    line("steady 10/s at N = 1,000: CPU per delivery ≤ 1.05× bare", ratio(r), r.map(|(m, _, _)| m <= 1.05));
    let r = ratio_of(records, "steady-1k-128B", Kind::WsNode, "cpu_us_per_delivery");
    line("… and < 0.9× Node ws", ratio(r), r.map(|(m, _, _)| m < 0.9));
    // The worst flood: the others' ping p99 during it, over every flood-* scenario run.
    let floods: Vec<(String, f64)> = {
        let mut names: Vec<&str> =
            records.iter().filter(|r| r.scenario.starts_with("flood-")).map(|r| r.scenario.as_str()).collect();
        names.dedup();
        names
            .into_iter()
            .filter_map(|name| Some((name.to_string(), median_of(records, name, Kind::Partyline, "ping_ms_p99")?)))
            .collect()
    };
    let worst = floods.iter().max_by(|a, b| a.1.total_cmp(&b.1));
    line(
        "others' ping p99 under a one-guest flood of any frame type < 5 ms",
        worst.map(|(name, p99)| format!("worst {} ms ({name})", num(*p99))),
        worst.map(|(_, p99)| *p99 < 5.0),
    );
    format!("| goal | measured (median, range over pairs) | verdict |\n| --- | --- | --- |\n{out}")
}

/// The goal for the other wire formats: CPU per delivery within this factor of
/// partyline/1's in the same run (a format's envelope costs something; this is how much).
pub const FORMAT_CPU_GOAL: f64 = 1.2;

/// Per pair, `a ÷ b` of `key` between two scenarios on Partyline: (median, min, max).
fn scenario_ratio(records: &[Record], a: &str, b: &str, key: &str) -> Option<(f64, f64, f64)> {
    pair_ratios(&value(records, a, Kind::Partyline, key), &value(records, b, Kind::Partyline, key))
}

/// Each other format's deliveries per server CPU-second beside its partyline/1 twin's from the
/// same run, and CPU per delivery as a multiple of the twin's (the pairs' median, range) against
/// [`FORMAT_CPU_GOAL`]; `None` when no scenario in another format ran.
pub fn formats(scenarios: &[Scenario], records: &[Record]) -> Option<String> {
    let mut out = String::new();
    for scenario in scenarios {
        let (Some(format), Some(twin)) = (scenario.format, scenario.twin()) else { continue };
        if !records.iter().any(|r| r.scenario == scenario.name) {
            continue;
        }
        let get = |name: &str, key: &str| median_of(records, name, Kind::Partyline, key).map_or("–".into(), num);
        let latency = |name: &str| format!("{} / {}", get(name, "latency_ms_p50"), get(name, "latency_ms_p99"));
        // CPU per delivery, format ÷ twin, is deliveries per CPU-second, twin ÷ format.
        let ratio = scenario_ratio(records, twin, &scenario.name, "deliveries_per_cpu_s");
        let (cell, verdict) = match ratio {
            Some((med, lo, hi)) => (
                if (hi - lo).abs() > 1e-9 {
                    format!("{}× ({}–{})", num(med), num(lo), num(hi))
                } else {
                    format!("{}×", num(med))
                },
                if med <= FORMAT_CPU_GOAL { "met" } else { "MISSED" },
            ),
            None => ("–".into(), "not measured"),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {cell} | {verdict} |",
            format.name(),
            scenario.name,
            get(&scenario.name, "deliveries_per_cpu_s"),
            get(twin, "deliveries_per_cpu_s"),
            latency(&scenario.name),
            latency(twin),
        );
    }
    if out.is_empty() {
        return None;
    }
    Some(format!(
        "| format | scenario | deliveries per server CPU-second | partyline/1's (its twin) | latency p50 / p99, ms \
         | partyline/1's, ms | CPU per delivery ÷ partyline/1's | ≤ {FORMAT_CPU_GOAL}× |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n{out}"
    ))
}
