//! The AWS side of the live chat: adapters of the core's ports and the Lambda
//! functions' shared wiring. The DynamoDB store adapter comes with its own module.
//!
//! # Layout
//! - [`calls`]: records the AWS operations each function performs, for the IAM check.
//! - [`config`]: the functions' configuration, read once at cold start from the
//!   environment, naming any missing variable.
//! - [`dynamo`]: every store port on one DynamoDB table, and a request counter.
//! - [`push`]: the push port on the API Gateway Management API (`@connections`).
//! - [`scheduler`]: the scheduler port on an SQS delay queue.
//! - [`notifier`]: agents' notices and replies by email (SES v2) or webhook.
//! - [`lambda`]: API Gateway WebSocket and SQS events in, [`Chat`] calls, responses out.
//! - [`runtime`]: tracing and SDK clients, built once per process.
//! - [`topology`]: which function serves which WebSocket route, in one table.
//!
//! [`Chat`]: livechat_core::service::Chat

pub mod calls;
pub mod config;
pub mod dynamo;
pub mod lambda;
pub mod notifier;
pub mod push;
pub mod runtime;
pub mod scheduler;
pub mod topology;
