//! hako-cgroups
