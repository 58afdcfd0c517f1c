//! Stateless capture (issue #14): two nodes of one deployment (two servers
//! on one database and one set of master keys) take the frames of one
//! attempt in turn, as a round-robin load balancer sends them, and either
//! finishes it. The decision is the one a single node makes, and a node
//! that stops analysing costs a retry, never a decision from part of the
//! frames.

use std::sync::Arc;

use async_trait::async_trait;
use facegate_core::engine::{
    AnalysedFrame, AttemptContext, AttemptFindings, EngineError, FaceEngine, FrameAnalysis,
    FrameInput,
};
use serde_json::Value;

use crate::capture::Capture;
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
