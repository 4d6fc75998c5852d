//! rest2mcp: REST APIs described by OpenAPI, served as MCP servers.
//!
//! Data flows one way: [`ingest`] (spec -> operations) -> [`mapping`] (operations -> tools)
//! -> [`catalog`] (immutable snapshot) -> [`server`] / [`auth`] / [`mcp`] / [`downstream`] /
//! [`upstream`] (requests).
#![deny(unsafe_code)]

pub mod admin;
pub mod app;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod downstream;
pub mod example;
pub mod fastpath;
pub mod ingest;
pub mod limits;
pub mod live;
pub mod mapping;
pub mod mcp;
pub mod memory;
pub mod metrics;
pub mod report;
pub mod search;
pub mod server;
pub mod telemetry;
pub mod upstream;
