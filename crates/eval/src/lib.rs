//! Evaluation of the face engine on real data: LFW View 2 10-fold accuracy,
//! true-accept rates at fixed false-match rates over every cross-identity
//! pair, failure-to-enrol, calibrated thresholds, plots and speed; and the
//! liveness signals against presentation attacks; the document engine on
//! generated documents (the document-portrait operating point, MRZ reading
//! per camera effect).

pub mod augment;
pub mod documents;
pub mod lfw;
pub mod liveness;
pub mod metrics;
pub mod pairs;
pub mod plot;
pub mod run;
pub mod speed;
