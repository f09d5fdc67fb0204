//! hako-config
