//! End-to-end tests of the HTTP API: each test starts the real server on a
//! free loopback port with a fresh data directory and drives it over HTTP.
//!
//! All files are modules of this one test binary (each file in `tests/` would
//! be a separate, slow-linking binary).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod browser;
mod callbacks;
mod capture;
mod cli;
mod client_address;
mod compat;
mod console;
mod enrollment;
mod erasure;
mod facemaps;
mod frames;
mod hard_light;
mod helpers;
mod id_verification;
mod initiate;
#[path = "../common/initiate_form.rs"]
mod initiate_form;
mod journey;
mod keys;
mod layering;
mod lifecycle;
mod limits;
mod lockout;
mod logs;
mod nodes;
mod openapi;
mod reviews;
mod revocation;
mod scans;
mod scripted;
mod throttle;
mod transport;
mod validation;
mod web;
