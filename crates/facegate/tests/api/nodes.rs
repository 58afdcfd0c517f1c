//! Several nodes of one deployment (issue #14): servers on one database and
//! one set of master keys, as behind a round-robin load balancer.
//! - Stateless capture: two nodes take the frames of one attempt in turn
//!   and either finishes it; the decision is the one a single node makes,
//!   and a node that stops analysing costs a retry, never a decision from
//!   part of the frames.
//! - Correctness across nodes: a revocation is refused by every node at
//!   once, concurrent initiations leave one open transaction per
//!   enrollment, the per-account initiation limit is one budget for all
//!   nodes, and concurrent expiry sweeps finalise and call back each
//!   transaction once.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Duration;
use facegate_core::engine::{
    AnalysedFrame, AttemptContext, AttemptFindings, EngineError, FaceEngine, FrameAnalysis,
    FrameInput,
};
use facegate_domain::{TransactionRef, TransactionState};
use serde_json::{json, Value};

use crate::capture::Capture;
use crate::helpers::{
    assert_problem, callback_body, eventually, spawn_with_acme_on, Options, Receiver, TestApp,
};
use crate::journey::{
    enrollment_of, initiate, mjpeg_frames, neutral_challenge, replay_across, replay_attempt,
    shared_or_skip, spawn_with_challenge, tranv_challenge, TRANV,
};

#[tokio::test]
async fn an_attempt_whose_frames_alternate_between_two_nodes_decides_as_on_one_node() {
    let Some(data) = shared_or_skip("two-node capture") else {
        return;
    };
    let (app, acme) = spawn_with_challenge(tranv_challenge()).await;
    let other = app.another_node_with(None).await;
    let real = mjpeg_frames(&data.join(TRANV).join("real_30fps.mjpeg"));
    let enrollment = enrollment_of(&app, &acme, &real[600]).await;

    let (one_node, token) = initiate(&app, &acme, &enrollment, None).await;
    let capture = Capture::open(&app, &token).await;
    let single = replay_attempt(&capture, &real, 0).await;

    let (two_nodes, token) = initiate(&app, &acme, &enrollment, None).await;
    let on_app = Capture::open(&app, &token).await;
    let on_other = Capture {
        server: &other,
        token: on_app.token.clone(),
    };
    let alternating = replay_across(&[&on_app, &on_other], &on_other, &real, 0).await;

    assert_eq!(single["outcome"], "PASSED", "{single}");
    assert_eq!(alternating["outcome"], single["outcome"], "{alternating}");
    let (_, single) = app.retrieve(&acme.admin, &one_node).await;
    let (_, alternating) = other.retrieve(&acme.admin, &two_nodes).await;
    // The whole decision record: every signal's score, the similarity and
    // the frame counts, to the last bit of each float.
    assert_eq!(alternating["decision"], single["decision"]);
    let received = alternating["decision"]["frames"]["received"].as_u64();
    assert!(received > Some(100), "{alternating}");
    assert_eq!(
        alternating["livenessImages"].as_array().map(Vec::len),
        single["livenessImages"].as_array().map(Vec::len)
    );
    other.stop().await;
    app.stop().await;
}

/// A node that accepts frames but never stores their analysis: what a
/// node killed mid-attempt leaves behind.
struct StoppedNode;

#[async_trait]
impl FaceEngine for StoppedNode {
    fn supports_model(&self, _: &str) -> bool {
        true
    }
    fn ready(&self) -> Result<(), EngineError> {
        Ok(())
    }
    async fn analyse_frame(&self, _: &str, _: FrameInput) -> Result<FrameAnalysis, EngineError> {
        std::future::pending().await
    }
    async fn conclude(
        &self,
        _: AttemptContext,
        _: Vec<AnalysedFrame>,
    ) -> Result<AttemptFindings, EngineError> {
        Err(EngineError("this node stopped".into()))
    }
}

#[tokio::test]
async fn frames_lost_with_a_stopped_node_make_a_retry_and_the_next_attempt_decides() {
    let Some(data) = shared_or_skip("lost frames") else {
        return;
    };
    let (app, acme) = spawn_with_challenge(neutral_challenge()).await;
    let stopped = app.another_node_with(Some(Arc::new(StoppedNode))).await;
    let live = mjpeg_frames(&data.join("video/live_person_a_640x480_30fps_20s.mjpeg"));
    let enrollment = enrollment_of(&app, &acme, &live[450]).await;
    let (reference, token) = initiate(&app, &acme, &enrollment, None).await;
    let on_app = Capture::open(&app, &token).await;
    let on_stopped = Capture {
        server: &stopped,
        token: on_app.token.clone(),
    };

    let lost = replay_across(&[&on_app, &on_stopped], &on_app, &live, 0).await;
    assert_eq!(lost["outcome"], "RETRY", "{lost}");
    assert_eq!(lost["attemptsLeft"], 2);
    // Nothing for the user to change: the server lost the frames.
    assert_eq!(lost["guidance"], serde_json::json!([]), "{lost}");
    let (_, tx) = app.retrieve(&acme.admin, &reference).await;
    assert_eq!(tx["transactionResult"], "STARTED", "{tx}");

    // The stopped node's frames are gone with the attempt; the user's next
    // attempt on a working node decides.
    let done = replay_attempt(&on_app, &live, 0).await;
    assert_eq!(done["outcome"], "PASSED", "{done}");
    let (_, tx) = app.retrieve(&acme.admin, &reference).await;
    assert_eq!(tx["transactionResult"], "PASSED", "{tx}");
    assert_eq!(tx["decision"]["frames"]["lost"], Value::Null);
    stopped.stop().await;
    app.stop().await;
}

/// The stored state of a transaction, read through the other node's store
/// (both nodes share one database).
async fn state_of(node: &TestApp, reference: &str) -> TransactionState {
    node.fixture_store()
        .transaction(reference.parse::<TransactionRef>().unwrap())
        .await
        .unwrap()
        .unwrap()
        .state
}

#[tokio::test]
async fn a_credential_revoked_on_one_node_is_refused_by_the_others_at_once() {
    let (app, acme) = spawn_with_acme_on(Options::scripted()).await;
    let other = app.another_node_with(None).await;
    let unknown = TransactionRef::new_random().to_string();
    // A request the other node authenticates (and so caches the secret of).
    let (status, _) = other.retrieve(&acme.admin, &unknown).await;
    assert_eq!(status, 404);
    assert!(app
        .services
        .revoke_credential(&acme.admin.token)
        .await
        .unwrap());
    // Every request reads the credential row: no cache outlives a revocation.
    let (status, _) = other.retrieve(&acme.admin, &unknown).await;
    assert_eq!(status, 401);
    other.stop().await;
    app.stop().await;
}

/// The per-account initiation limit is shared: behind a round-robin
/// balancer an account gets its budget once, not once per node.
#[tokio::test]
async fn the_initiation_limit_holds_across_nodes() {
    let (app, acme) = spawn_with_acme_on(Options {
        configure: Some(Box::new(|c| c.rate_limits.initiations_per_minute = 4)),
        ..Options::scripted()
    })
    .await;
    let other = app.another_node_with(None).await;
    let (enrollment, facemap) = app.enrollment(&acme).await;
    // The enrollment's scan was an initiation too: 4 a minute refill one
    // every 15 s.
    app.advance(Duration::seconds(15));
    let metadata = json!({ "enrollmentTransactionReference": enrollment.to_string() });
    for node in [&app, &other, &app, &other] {
        node.initiate_ok(&acme.api, &metadata, &facemap).await;
    }
    // Each node on its own has taken only 2 of its 4: the shared budget refuses.
    for node in [&app, &other] {
        let refused = node.initiate(&acme.api, &metadata, &facemap).await;
        assert_problem(refused, 429, "INITIATION_RATE_LIMITED").await;
    }
    app.advance(Duration::seconds(15));
    other.initiate_ok(&acme.api, &metadata, &facemap).await;
    other.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn concurrent_initiations_on_two_nodes_leave_exactly_one_open_per_enrollment() {
    let (app, acme) = spawn_with_acme_on(Options::scripted()).await;
    let other = app.another_node_with(None).await;
    let (enrollment, facemap) = app.enrollment(&acme).await;
    let metadata = json!({ "enrollmentTransactionReference": enrollment.to_string() });
    let mut all = Vec::new();
    for _ in 0..5 {
        let (a, b) = tokio::join!(
            app.initiate_ok(&acme.api, &metadata, &facemap),
            other.initiate_ok(&acme.api, &metadata, &facemap)
        );
        all.extend([a, b]);
    }
    let mut open = Vec::new();
    for reference in &all {
        match state_of(&app, reference).await {
            TransactionState::Created => open.push(reference.clone()),
            TransactionState::Expired => {}
            state => panic!("{reference}: {state:?}"),
        }
    }
    assert_eq!(open.len(), 1, "last wins: {open:?}");
    other.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn two_nodes_expiring_the_same_transactions_finalise_and_call_back_each_once() {
    let (app, acme) = spawn_with_acme_on(Options::scripted()).await;
    let other = app.another_node_with(None).await;
    let receiver = Receiver::start(0).await;
    let mut references = Vec::new();
    for _ in 0..6 {
        let (enrollment, facemap) = app.enrollment(&acme).await;
        let metadata = json!({
            "enrollmentTransactionReference": enrollment.to_string(),
            "callbackUrl": receiver.url,
        });
        references.push(app.initiate_ok(&acme.api, &metadata, &facemap).await);
    }
    app.advance(Duration::minutes(16));
    // Both nodes' sweeps run too (every 50 ms); these two race them.
    let (a, b) = tokio::join!(
        app.services.expire_overdue(),
        other.services.expire_overdue()
    );
    assert!(a.unwrap() + b.unwrap() <= references.len());
    eventually("every callback arrives", || async {
        receiver.count() >= references.len()
    })
    .await;
    for reference in &references {
        assert_eq!(state_of(&other, reference).await, TransactionState::Expired);
    }
    // Give a duplicate time to show.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mut called_back: Vec<String> = receiver
        .all()
        .iter()
        .map(|r| callback_body(&r.body).transaction_reference.to_string())
        .collect();
    called_back.sort();
    let mut expected = references.clone();
    expected.sort();
    assert_eq!(called_back, expected, "one callback per transaction");
    other.stop().await;
    app.stop().await;
}
