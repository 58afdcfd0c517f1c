//! The web client in real headless Chromium, driven over the DevTools
//! protocol ([`cdp`]). Each test starts the real server; tests skip with a
//! `SKIPPED:` line when no Chromium is installed (`scripts/setup-chromium`).
//! Screenshots land in the target's test temp directory.

pub(crate) mod cdp;
pub(crate) mod client;
mod codes;
mod console;
mod enrollment;
mod journey;

/// The page waits for the user to start the selfie.
pub(crate) const READY: &str = "document.getElementById('app').dataset.state === 'ready'";
