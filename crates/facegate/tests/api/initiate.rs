//! initiate tests
