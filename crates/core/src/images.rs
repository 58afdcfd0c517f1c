//! The links to a transaction's images, as retrieval and callbacks name them
//! (SPEC §2.6–2.7). The images themselves are sealed in storage.

use facegate_domain::AuthTransaction;

/// Absolute URLs of a transaction's stored images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageLinks {
    /// `…/images/face`, when the best face frame is stored.
    pub face: Option<String>,
    /// `…/images/liveness/1` … `/n`.
    pub liveness: Vec<String>,
}

impl ImageLinks {
    pub fn new(public_base_url: &str, tx: &AuthTransaction) -> Self {
        let base = format!(
            "{}/api/netverify/v2/authentications/{}/images",
            public_base_url, tx.reference
        );
        Self {
            face: tx.face_image.then(|| format!("{base}/face")),
            liveness: (1..=tx.liveness_images)
                .map(|n| format!("{base}/liveness/{n}"))
                .collect(),
        }
    }
}
