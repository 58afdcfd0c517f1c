//! callbacks tests
