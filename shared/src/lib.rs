//! The live chat's core crate, shared by every Lambda handler and the local gateway.
//!
//! # Layout
//! - [`analytics`]: the metrics of docs/analytics.md: events from stored changes,
//!   per-day counters, reports, CSV, and their independent recomputation.
//! - [`domain`]: the product's nouns and their rules (ids, agents, schedules,
//!   conditions, conversations and their state machine, messages, settings).
//! - [`auth`]: agent tokens (JWT: HS256 locally, RS256 from a JWKS in AWS) and signed
//!   visitor session tokens.
//! - [`identify`]: signed identify: the canonical string and its HMAC-SHA256 check.
//! - [`dialog`]: the dialog file format (JSON and YAML), its validator and the card
//!   engine that walks a visitor through the cards.
//! - [`routing`]: picks the agent for a live chat card: account routing, the card's
//!   mode, eligibility, the 2-offer rule, round robin on a compare-and-set cursor.
//! - [`protocol`]: every JSON frame the widget and the inbox send and receive.
//! - [`limits`]: the caps on what visitors make the service keep and send.
//! - [`shards`]: the partitions the account-wide lists are write-sharded over.
//! - [`site`]: `site.json`, the dialogs' audiences and teasers the widget reads
//!   without opening a socket.
//! - [`service`]: the use cases the handlers call: connect, messages from either
//!   side, delayed events.
//! - [`ports`]: the narrow async traits the core needs from the world (store, push,
//!   scheduler, clock, notifier).
//! - [`config`]: configuration as code: one file with agents, teams, rules, account
//!   routing, settings and the dialog, validated with file, line and rule.
//! - [`demo`]: the demo account of `examples/`, compiled in.
//! - [`memory`]: thread-safe in-memory adapters of every port, with the semantics the
//!   AWS adapters have (compare-and-set that can lose, gone connections, at-least-once
//!   delayed events). They serve the local gateway and the tests.
//!
//! Nothing here depends on an AWS crate: the adapters for DynamoDB, API Gateway and
//! SQS live beside the handlers.

pub mod analytics;
pub mod auth;
pub mod config;
pub mod demo;
pub mod dialog;
pub mod domain;
pub mod identify;
pub mod limits;
pub mod memory;
pub mod ports;
pub mod protocol;
pub mod routing;
pub mod service;
pub mod shards;
pub mod site;
pub mod texts;
