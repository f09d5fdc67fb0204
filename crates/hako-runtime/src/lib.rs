//! hako-runtime
