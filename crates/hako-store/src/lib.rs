//! hako-store
