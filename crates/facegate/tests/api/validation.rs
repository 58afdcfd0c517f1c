//! validation tests
