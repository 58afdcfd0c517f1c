//! lifecycle tests
