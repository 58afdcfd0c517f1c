//! facemaps tests
