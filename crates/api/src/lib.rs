//! Facegate's HTTP API: the router (`router`, over the `state` every handler
//! receives), its middleware and thin handlers that extract, delegate to
//! `facegate-core` in one call, and map the answer;
//! the typed request and response bodies (`wire`) and the OpenAPI document
//! generated from them and the router (`openapi`).

pub mod auth;
pub mod capture;
mod code;
pub mod console;
pub mod error;
pub mod extract;
mod handlers;
mod middleware;
pub mod openapi;
mod router;
mod scans;
mod state;
pub mod web;
pub mod wire;

pub use error::{ApiError, Code};
pub use router::{metrics_router, router, router_with};
pub use state::{AppState, HttpOptions};
