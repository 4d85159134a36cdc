//! The Rust port is the phone's clock filter: replaying the shared test vectors
//! (`vectors.json`, written by `make_vectors.mjs` from the real `ui/shared/clock.js`) through
//! [`SyncClock`] gives the JavaScript's numbers at every step, within 1e-6 ms, and the same
//! counts and flags. Without this, the clock benchmark would measure an estimator no phone runs.
//! (`ui/shared/clock.test.mjs` checks the file is what the script writes from today's clock.js.)

use partyline_clock::{ClockOptions, SyncClock};
use serde_json::Value;

/// How far (ms) a Rust offset, delay or uncertainty may be from the JavaScript's.
const TOLERANCE_MS: f64 = 1e-6;

/// How far a drift may be: 1e-6 ms over 1,000 s, so that the drift moves no reading by more than
/// [`TOLERANCE_MS`] within a quarter hour of its reference.
const TOLERANCE_DRIFT: f64 = 1e-12;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|err| panic!("read {path}: {err}"));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("parse {path}: {err}"))
}

fn number(value: &Value, what: &str) -> f64 {
    value.as_f64().unwrap_or_else(|| panic!("{what}: expected a number, got {value}"))
}

fn count(value: &Value, what: &str) -> usize {
    value.as_u64().unwrap_or_else(|| panic!("{what}: expected a count, got {value}")) as usize
}

/// Options from the JavaScript's names, over `base`.
fn options(base: ClockOptions, value: &Value) -> ClockOptions {
    let mut o = base;
    let fields = value.as_object().unwrap_or_else(|| panic!("options: expected an object, got {value}"));
    for (key, v) in fields {
        match key.as_str() {
            "window" => o.window = count(v, key),
            "history" => o.history = count(v, key),
            "epsilon" => o.epsilon = number(v, key),
            "driftMinSpan" => o.drift_min_span = number(v, key),
            "driftMinSamples" => o.drift_min_samples = count(v, key),
            "maxDrift" => o.max_drift = number(v, key),
            "slackUnknown" => o.slack_unknown = number(v, key),
            "slackKnown" => o.slack_known = number(v, key),
            "stepConfirm" => o.step_confirm = count(v, key),
            other => panic!("options: expected a CLOCK_DEFAULTS key, got {other:?}"),
        }
    }
    o
}

/// The largest difference seen, kept to print it.
#[derive(Default)]
struct Worst {
    ms: f64,
    drift: f64,
}

/// Checks one number (or null) of the state against the JavaScript's.
fn close(actual: Option<f64>, expected: &Value, tolerance: f64, what: &str, worst: &mut f64) {
    match (actual, expected.as_f64()) {
        (None, None) if expected.is_null() => {}
        (Some(a), Some(e)) => {
            let diff = (a - e).abs();
            *worst = worst.max(diff);
            assert!(diff <= tolerance, "{what}: expected {e} (clock.js), got {a} (Rust), {diff:e} apart");
        }
        (a, _) => panic!("{what}: expected {expected} (clock.js), got {a:?} (Rust)"),
    }
}

fn check_state(clock: &SyncClock, after: &Value, what: &str, worst: &mut Worst) {
    let w = &mut worst.ms;
    close(clock.offset(), &after["offset"], TOLERANCE_MS, &format!("{what}: offset"), w);
    close(clock.delay(), &after["delay"], TOLERANCE_MS, &format!("{what}: delay"), w);
    close(clock.coarse(), &after["coarse"], TOLERANCE_MS, &format!("{what}: coarse"), w);
    close(clock.reference(), &after["ref"], TOLERANCE_MS, &format!("{what}: reference"), w);
    close(clock.uncertainty(), &after["uncertainty"], TOLERANCE_MS, &format!("{what}: uncertainty"), w);
    close(Some(clock.current_offset(None)), &after["current"], TOLERANCE_MS, &format!("{what}: current_offset()"), w);
    for pair in after["at"].as_array().unwrap_or_else(|| panic!("{what}: expected `at` pairs")) {
        let at = number(&pair[0], "at");
        close(
            Some(clock.current_offset(Some(at))),
            &pair[1],
            TOLERANCE_MS,
            &format!("{what}: current_offset({at})"),
            w,
        );
    }
    close(Some(clock.drift()), &after["drift"], TOLERANCE_DRIFT, &format!("{what}: drift"), &mut worst.drift);
    let flags = [
        ("drift_known", Value::from(clock.drift_known()), &after["driftKnown"]),
        ("used", Value::from(clock.used()), &after["used"]),
        ("steps", Value::from(clock.steps()), &after["steps"]),
        ("samples", Value::from(clock.samples().len()), &after["samples"]),
        ("history", Value::from(clock.history_len()), &after["history"]),
        (
            "newest outlier",
            clock.samples().last().map_or(Value::Null, |s| Value::from(s.outlier)),
            &after["newestOutlier"],
        ),
    ];
    for (name, actual, expected) in flags {
        assert_eq!(&actual, expected, "{what}: {name}: expected {expected} (clock.js), got {actual} (Rust)");
    }
}

/// Every scenario, replayed step by step, gives clock.js's offsets, delays, uncertainties,
/// drifts and readings within the tolerance, and the same counts, flags and refusals.
#[test]
fn the_port_matches_clock_js_at_every_step() {
    let vectors = vectors();
    let scenarios = vectors["scenarios"].as_array().expect("expected a scenarios list");
    assert!(scenarios.len() >= 6, "expected the six scenarios of the issue at least, got {}", scenarios.len());
    let mut worst = Worst::default();
    let mut steps = 0;
    for scenario in scenarios {
        let name = scenario["name"].as_str().expect("a scenario name");
        let mut clock = SyncClock::new(options(ClockOptions::default(), &scenario["options"]));
        for (n, step) in scenario["steps"].as_array().expect("steps").iter().enumerate() {
            let what = format!("{name:?}, step {n}");
            match step["op"].as_str() {
                Some("sample") => {
                    let t: Vec<f64> = (0..4).map(|i| number(&step["t"][i], "t")).collect();
                    let result = clock.add_sample(t[0], t[1], t[2], t[3]);
                    match (result, &step["result"]) {
                        (Err(_), Value::Null) => {}
                        (Ok(exchange), expected) if !expected.is_null() => {
                            let w = &mut worst.ms;
                            close(
                                Some(exchange.offset),
                                &expected["offset"],
                                TOLERANCE_MS,
                                &format!("{what}: its offset"),
                                w,
                            );
                            close(
                                Some(exchange.delay),
                                &expected["delay"],
                                TOLERANCE_MS,
                                &format!("{what}: its delay"),
                                w,
                            );
                        }
                        (result, expected) => panic!("{what}: expected {expected} (clock.js), got {result:?} (Rust)"),
                    }
                }
                Some("coarse") => {
                    clock.add_coarse(number(&step["server"], "server"), number(&step["client"], "client"))
                }
                Some("reset") => clock.reset(),
                Some("clear") => clock.clear(),
                other => panic!("{what}: expected sample, coarse, reset or clear, got {other:?}"),
            }
            check_state(&clock, &step["after"], &what, &mut worst);
            steps += 1;
        }
    }
    println!(
        "{steps} steps in {} scenarios: largest difference {:e} ms, drift {:e}",
        scenarios.len(),
        worst.ms,
        worst.drift
    );
}

/// The port's defaults are clock.js's `CLOCK_DEFAULTS`.
#[test]
fn the_defaults_are_clock_js_defaults() {
    let vectors = vectors();
    let from_js = options(zero(), &vectors["defaults"]);
    assert_eq!(ClockOptions::default(), from_js, "expected CLOCK_DEFAULTS (right) in Rust (left)");
}

/// Options with every number 0, so that a key missing from the vectors' defaults shows.
fn zero() -> ClockOptions {
    ClockOptions {
        window: 0,
        history: 0,
        epsilon: 0.0,
        drift_min_span: 0.0,
        drift_min_samples: 0,
        max_drift: 0.0,
        slack_unknown: 0.0,
        slack_known: 0.0,
        step_confirm: 0,
    }
}
