//! The fault test (issue #14): three `facegate serve` processes on one
//! database behind HAProxy (round robin, no stickiness), a callback
//! receiver that is down for the first part of the run, a bounded load of
//! initiations and complete capture attempts of a real recording across the
//! nodes, and one node killed with SIGKILL mid-flight and started again.
//! Afterwards every acknowledged transaction is in a correct final state,
//! every final state's callback was delivered at least once with a valid
//! signature, no attempt was decided from part of its frames, and nothing
//! is lost.
//!
//! Too heavy for the default suite: it runs with `FACEGATE_FAULT_TEST=1`
//! (`scripts/fault-test` installs HAProxy, builds, and runs it several times
//! in a row; docs/fault-test.md) and prints SKIPPED otherwise. Its own test
//! binary, so that `cargo test --test fault` builds nothing else.
//!
//! The database is one choice (`deployment::Database`): a fresh PostgreSQL
//! database per run on the test server (`FACEGATE_TEST_POSTGRES_URL`) when
//! it answers, else one SQLite file the three nodes share
//! (`FACEGATE_FAULT_BACKEND=auto|postgres|sqlite`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client;
mod deployment;
#[path = "../common/initiate_form.rs"]
mod initiate_form;
mod receiver;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::Value;

use crate::client::{Client, Load, Transaction};
use crate::deployment::{Backend, Database, Deployment, Enrollment};
use crate::receiver::{Delivery, Receiver};

/// The recording of a live person; frame 450 (15 s in) is the enrolled
/// face, and the capture replays it from its start (journey.rs).
const RECORDING: &str = "video/live_person_a_640x480_30fps_20s.mjpeg";
const ENROLLED_FRAME: usize = 450;
const NODES: usize = 3;
/// The receiver answers 503 for this long after the load starts.
const RECEIVER_DOWN: Duration = Duration::from_secs(20);
/// When the node is killed (at the first moment after this that half the
/// transactions upload frames), and how long it stays down.
const KILL_AFTER: Duration = Duration::from_secs(8);
const DOWN_FOR: Duration = Duration::from_secs(3);
/// A node's claim on a callback (`callbacks.lease_secs`): a killed node's
/// claims are taken over after this.
const CALLBACK_LEASE_SECS: u64 = 15;

/// What one run is asked to do (`FACEGATE_FAULT_*`).
struct Params {
    data: PathBuf,
    transactions: usize,
    concurrency: usize,
    deadline: Duration,
    backend: Backend,
}

impl Params {
    /// The run's parameters, or why the test is skipped.
    fn or_skip() -> Option<Params> {
        if std::env::var("FACEGATE_FAULT_TEST").as_deref() != Ok("1") {
            eprintln!(
                "SKIPPED: set FACEGATE_FAULT_TEST=1 to run the fault test (scripts/fault-test runs it)"
            );
            return None;
        }
        let data = std::env::var_os("FACEGATE_SHARED_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared"))
            })
            .join("data");
        if !data.join(RECORDING).is_file() {
            eprintln!("SKIPPED: fault test: no shared face data (set FACEGATE_SHARED_DIR)");
            return None;
        }
        if deployment::haproxy_binary().is_none() {
            eprintln!(
                "SKIPPED: fault test: haproxy is not installed (scripts/fault-test installs it)"
            );
            return None;
        }
        let number = |name: &str, default: u64| -> u64 {
            std::env::var(name)
                .ok()
                .map(|v| {
                    v.parse()
                        .unwrap_or_else(|_| panic!("{name} must be a number"))
                })
                .unwrap_or(default)
        };
        Some(Params {
            data,
            transactions: number("FACEGATE_FAULT_TRANSACTIONS", 16) as usize,
            concurrency: number("FACEGATE_FAULT_CONCURRENCY", 4).max(1) as usize,
            deadline: Duration::from_secs(number("FACEGATE_FAULT_DEADLINE_SECS", 360)),
            backend: Backend::from_env(),
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_flight_loses_nothing_and_decides_nothing_from_part_of_the_frames() {
    let Some(params) = Params::or_skip() else {
        return;
    };
    let dir = tempfile::Builder::new()
        .prefix("facegate-fault-")
        .tempdir()
        .unwrap();
    let started = Instant::now();
    let outcome = tokio::time::timeout(params.deadline, run(&params, dir.path(), started)).await;
    let elapsed = started.elapsed().as_secs();
    match outcome {
        Ok(Ok(summary)) => {
            if std::env::var("FACEGATE_FAULT_KEEP").as_deref() == Ok("1") {
                println!("fault test: logs kept in {}", dir.keep().display());
            }
            println!("FAULT-SUMMARY: {summary} duration={elapsed}s");
        }
        Ok(Err(report)) => {
            let kept = dir.keep();
            panic!(
                "fault test failed after {elapsed}s (logs kept in {}):\n{report}",
                kept.display()
            )
        }
        Err(_) => {
            let kept = dir.keep();
            panic!(
                "fault test passed its deadline of {}s (logs kept in {}):\n{}",
                params.deadline.as_secs(),
                kept.display(),
                log_tails(&kept)
            )
        }
    }
}

/// One run; the summary line, or every failure with the processes' logs.
async fn run(params: &Params, dir: &Path, started: Instant) -> Result<String, String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(70))
        .build()
        .unwrap();
    let mut set_up = set_up(params, dir, &http).await;
    let setup_secs = started.elapsed().as_secs();

    let load_started = Instant::now();
    set_up.receiver.up_at(load_started + RECEIVER_DOWN);
    let lanes: Vec<_> = set_up
        .enrollments
        .iter()
        .cloned()
        .enumerate()
        .map(|(lane, enrollment)| {
            let load = set_up.load.clone();
            let (count, concurrency) = (params.transactions, params.concurrency);
            tokio::spawn(async move { lane_of(&load, lane, concurrency, count, &enrollment).await })
        })
        .collect();
    let victim = rand::thread_rng().gen_range(0..NODES);
    let kill = kill_mid_flight(
        &mut set_up.deployment.nodes[victim],
        &set_up.load,
        params.concurrency,
        &http,
    );
    let (lanes, in_flight_at_kill) = tokio::join!(futures::future::join_all(lanes), kill);
    let transactions: Vec<Transaction> = lanes.into_iter().flat_map(Result::unwrap).collect();
    let load_secs = load_started.elapsed().as_secs();

    let converge_by = started + params.deadline - Duration::from_secs(20);
    let states = converge(&set_up, &transactions, converge_by).await;
    let converged_secs = load_started.elapsed().as_secs();

    let deliveries = set_up.receiver.deliveries();
    let failures = check(&transactions, &states, &deliveries);
    let counts = Counts::of(&transactions, &states, &deliveries);
    let deployment = &set_up.deployment;
    let summary = format!(
        "backend={} killed=node{} attempts_in_flight_at_kill={in_flight_at_kill} {counts} \
         attempts_with_lost_frames={} setup={setup_secs}s load={load_secs}s converged={converged_secs}s",
        deployment.database.kind(),
        victim + 1,
        deployment.logged("frames lost before their analysis was stored"),
    );
    if failures.is_empty() {
        return Ok(summary);
    }
    let mut report = format!("{summary}\n{} failures:\n", failures.len());
    for failure in &failures {
        report += &format!("- {failure}\n");
    }
    for tx in &transactions {
        report += &format!("{tx:?}\n");
    }
    report += &deployment.logs(40);
    Err(report)
}

/// What the load runs on.
struct SetUp {
    deployment: Deployment,
    receiver: Receiver,
    enrollments: Vec<Enrollment>,
    load: Arc<Load>,
}

/// The deployment, its customer (made with the CLI), one enrollment of the
/// recorded person per concurrent transaction, every node's face models
/// loaded, and the callback receiver, down.
async fn set_up(params: &Params, dir: &Path, http: &reqwest::Client) -> SetUp {
    let recording = std::fs::read(params.data.join(RECORDING)).unwrap();
    let frames: Vec<Vec<u8>> = facegate_vision::decode::split_mjpeg(&recording)
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect();
    let face = dir.join("face.jpg");
    std::fs::write(&face, &frames[ENROLLED_FRAME]).unwrap();

    let database = Database::for_run(dir, params.backend).await;
    let deployment = Deployment::start(dir, database, NODES, CALLBACK_LEASE_SECS, http).await;
    let customer = deployment.customer().await;
    // A second initiation for an enrollment supersedes the first (last
    // wins): transactions that run at once need enrollments of their own.
    let mut enrollments = Vec::new();
    for n in 0..params.concurrency {
        enrollments.push(deployment.enrollment(&customer, &face, n).await);
    }
    for node in &deployment.nodes {
        Client::new(http.clone(), node.base())
            .warm_up(&customer.api, &enrollments[0])
            .await;
    }
    let receiver = Receiver::start(customer.webhook_secret.clone()).await;
    let load = Arc::new(Load {
        client: Client::new(http.clone(), deployment.base()),
        api: customer.api,
        admin: customer.admin,
        callback_url: receiver.url.clone(),
        frames: Arc::new(frames),
        in_flight: AtomicUsize::new(0),
        uploading: AtomicUsize::new(0),
    });
    SetUp {
        deployment,
        receiver,
        enrollments,
        load,
    }
}

/// SIGKILLs `node` mid-flight and starts it again after [`DOWN_FOR`];
/// returns how many attempts were under way when it died.
async fn kill_mid_flight(
    node: &mut deployment::Node,
    load: &Load,
    concurrency: usize,
    http: &reqwest::Client,
) -> usize {
    tokio::time::sleep(KILL_AFTER).await;
    // While frames are being uploaded (and analysed), so that the node most
    // likely dies with analyses it has not stored.
    let busy = concurrency.div_ceil(2);
    let wait_until = Instant::now() + Duration::from_secs(20);
    while load.uploading.load(Ordering::SeqCst) < busy && Instant::now() < wait_until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Into the uploads (each lasts the challenge's 3 s), when the nodes hold
    // a backlog of frames to analyse.
    let into = rand::thread_rng().gen_range(800..2_000);
    tokio::time::sleep(Duration::from_millis(into)).await;
    let in_flight = load.in_flight.load(Ordering::SeqCst);
    node.kill().await;
    tokio::time::sleep(DOWN_FOR).await;
    node.start(http).await;
    in_flight
}

/// Waits until every acknowledged transaction is final and its callback
/// delivered, or until `by`; the transactions as retrieval answers them.
async fn converge(
    set_up: &SetUp,
    transactions: &[Transaction],
    by: Instant,
) -> BTreeMap<String, Value> {
    let mut states: BTreeMap<String, Value> = BTreeMap::new();
    loop {
        for reference in transactions.iter().filter_map(|tx| tx.reference.as_ref()) {
            let settled = states
                .get(reference)
                .is_some_and(|t| is_final(t["transactionResult"].as_str().unwrap_or("")));
            if !settled {
                let load = &set_up.load;
                let answer = load.client.retrieve(&load.admin, reference).await;
                if let client::Answer::Http { status: 200, body } = answer {
                    states.insert(reference.clone(), body);
                }
            }
        }
        let deliveries = set_up.receiver.deliveries();
        let converged = transactions
            .iter()
            .filter_map(|tx| tx.reference.as_ref())
            .all(|r| {
                states.get(r).is_some_and(|t| {
                    let state = t["transactionResult"].as_str().unwrap_or("");
                    is_final(state) && delivered(&deliveries, r, state)
                })
            });
        if converged || Instant::now() >= by {
            return states;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Transactions `lane`, `lane + concurrency`, … below `count`, one after
/// the other, on the lane's own enrollment.
async fn lane_of(
    load: &Load,
    lane: usize,
    concurrency: usize,
    count: usize,
    enrollment: &Enrollment,
) -> Vec<Transaction> {
    let mut done = Vec::new();
    for number in (lane..count).step_by(concurrency) {
        done.push(load.transaction(number, enrollment).await);
    }
    done
}

fn is_final(state: &str) -> bool {
    matches!(state, "PASSED" | "FAILED" | "INVALID" | "EXPIRED")
}

/// Whether the receiver accepted a validly signed callback of `reference`
/// with `state`.
fn delivered(deliveries: &[Delivery], reference: &str, state: &str) -> bool {
    deliveries.iter().any(|d| {
        d.accepted
            && d.signature_valid
            && d.reference.as_deref() == Some(reference)
            && d.result.as_deref() == Some(state)
    })
}

/// Every way the run went wrong.
fn check(
    transactions: &[Transaction],
    states: &BTreeMap<String, Value>,
    deliveries: &[Delivery],
) -> Vec<String> {
    let mut failures = Vec::new();
    for tx in transactions {
        let n = tx.number;
        for anomaly in &tx.anomalies {
            failures.push(format!("transaction {n}: {anomaly}"));
        }
        let Some(reference) = &tx.reference else {
            failures.push(format!(
                "transaction {n}: the initiation was never acknowledged"
            ));
            continue;
        };
        let Some(stored) = states.get(reference) else {
            failures.push(format!(
                "transaction {n} ({reference}) is lost: retrieval does not find it"
            ));
            continue;
        };
        let state = stored["transactionResult"].as_str().unwrap_or("");
        if !is_final(state) {
            failures.push(format!(
                "transaction {n} ({reference}) is not final: {state}"
            ));
            continue;
        }
        if state == "FAILED" {
            failures.push(format!(
                "transaction {n} ({reference}) FAILED: the live, enrolled person was refused: {}",
                stored["decision"]
            ));
        }
        match &tx.outcome {
            Some(seen) if seen != state => failures.push(format!(
                "transaction {n} ({reference}): the client saw {seen}, retrieval says {state}"
            )),
            None => failures.push(format!(
                "transaction {n} ({reference}) ended {state} without the client seeing an outcome"
            )),
            Some(_) => {}
        }
        let last = tx.attempts.last().cloned().unwrap_or_default();
        if state == "INVALID" && last.number != 3 {
            failures.push(format!(
                "transaction {n} ({reference}) is INVALID after attempt {} of 3",
                last.number
            ));
        }
        if state == "PASSED" {
            let frames = &stored["decision"]["frames"];
            let received = frames["received"].as_u64().unwrap_or(0);
            let known = last.accepted..=last.accepted + u64::from(last.maybe_one_more);
            if !known.contains(&received) {
                failures.push(format!(
                    "transaction {n} ({reference}) was decided from {received} frames, the client had {} accepted",
                    last.accepted
                ));
            }
            if !frames["lost"].is_null() {
                failures.push(format!(
                    "transaction {n} ({reference}) was decided although frames were lost: {frames}"
                ));
            }
        }
        if !delivered(deliveries, reference, state) {
            let got: Vec<String> = deliveries
                .iter()
                .filter(|d| d.reference.as_deref() == Some(reference))
                .map(|d| format!("{d:?}"))
                .collect();
            failures.push(format!(
                "transaction {n} ({reference}) {state}: no validly signed callback was delivered (got {got:?})"
            ));
        }
    }
    let forged = deliveries.iter().filter(|d| !d.signature_valid).count();
    if forged > 0 {
        failures.push(format!(
            "{forged} callbacks did not carry a valid signature"
        ));
    }
    failures
}

/// The run's numbers, for its summary line.
struct Counts {
    transactions: usize,
    acknowledged: usize,
    states: BTreeMap<String, usize>,
    retries: usize,
    lost_frame_retries: usize,
    resent: u32,
    skipped_frames: u32,
    callbacks: usize,
    deliveries: usize,
    refused: usize,
    duplicates: usize,
    unknown: usize,
}

impl Counts {
    fn of(
        transactions: &[Transaction],
        states: &BTreeMap<String, Value>,
        deliveries: &[Delivery],
    ) -> Counts {
        let mut by_state = BTreeMap::new();
        for stored in states.values() {
            let state = stored["transactionResult"]
                .as_str()
                .unwrap_or("?")
                .to_owned();
            *by_state.entry(state).or_default() += 1;
        }
        let attempts = || transactions.iter().flat_map(|tx| &tx.attempts);
        let mut accepted_by_reference: HashMap<&str, usize> = HashMap::new();
        for d in deliveries.iter().filter(|d| d.accepted) {
            *accepted_by_reference
                .entry(d.reference.as_deref().unwrap_or(""))
                .or_default() += 1;
        }
        let mut accepted_by_message: HashMap<&str, usize> = HashMap::new();
        for d in deliveries.iter().filter(|d| d.accepted) {
            *accepted_by_message
                .entry(d.webhook_id.as_str())
                .or_default() += 1;
        }
        let known: Vec<&str> = transactions
            .iter()
            .filter_map(|tx| tx.reference.as_deref())
            .collect();
        Counts {
            transactions: transactions.len(),
            acknowledged: known.len(),
            states: by_state,
            retries: attempts()
                .filter(|a| a.outcome.as_deref() == Some("RETRY"))
                .count(),
            // The server lost the frames: nothing for the user to change.
            lost_frame_retries: attempts()
                .filter(|a| {
                    a.outcome.as_deref() == Some("RETRY")
                        && a.guidance.as_ref().is_some_and(Vec::is_empty)
                })
                .count(),
            resent: transactions.iter().map(|tx| tx.resent).sum(),
            skipped_frames: attempts().map(|a| a.skipped).sum(),
            callbacks: accepted_by_reference.len(),
            deliveries: deliveries.len(),
            refused: deliveries.iter().filter(|d| !d.accepted).count(),
            // The same message (webhook-id) delivered again.
            duplicates: accepted_by_message.values().map(|n| n - 1).sum(),
            unknown: accepted_by_reference
                .keys()
                .filter(|r| !known.contains(r))
                .count(),
        }
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let states: Vec<String> = self
            .states
            .iter()
            .map(|(s, n)| format!("{s}:{n}"))
            .collect();
        write!(
            f,
            "transactions={} acknowledged={} final=[{}] retry_attempts={} lost_frame_retries={} \
             resent_requests={} skipped_frames={} callbacks={} deliveries={} refused_while_down={} \
             duplicates={} unknown_callbacks={}",
            self.transactions,
            self.acknowledged,
            states.join(" "),
            self.retries,
            self.lost_frame_retries,
            self.resent,
            self.skipped_frames,
            self.callbacks,
            self.deliveries,
            self.refused,
            self.duplicates,
            self.unknown,
        )
    }
}

/// The last lines of every log in the run directory.
fn log_tails(dir: &Path) -> String {
    let mut out = String::new();
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    logs.retain(|p| p.extension().is_some_and(|e| e == "log"));
    logs.sort();
    for log in logs {
        out += &format!("---- {}\n{}\n", log.display(), deployment::tail(&log, 40));
    }
    out
}
