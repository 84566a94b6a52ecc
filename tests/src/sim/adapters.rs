//! The push and delay-queue ports of the simulation, around the in-memory ones.
//!
//! - [`SimPush`] keeps each connection's frames for its client and injects network
//!   faults: a connection that turns out gone under a push, a push that fails.
//! - [`SimScheduler`] delivers delayed events late, twice, and in a shuffled order
//!   among those due together; an event whose handler failed comes back after the
//!   queue's visibility timeout, as SQS redelivers it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use livechat_core::domain::ConnectionId;
use livechat_core::memory::{MemoryPush, MemoryScheduler};
use livechat_core::ports::{DelayedEvent, Delivery, Push, PushError, Scheduler, SchedulerError};

use super::ctx::{Ctx, lock};

/// How long a failed delayed event waits before the queue hands it out again.
pub const VISIBILITY_TIMEOUT: SignedDuration = SignedDuration::from_secs(30);

/// [`MemoryPush`] that keeps frames for the simulated clients and drops connections.
pub struct SimPush {
    inner: MemoryPush,
    ctx: Arc<Ctx>,
    frames: Mutex<BTreeMap<ConnectionId, Vec<String>>>,
    /// Frames pushed but never delivered (the connection was gone, or the push
    /// failed): the client learns of them only at its next sync.
    lost: Mutex<BTreeMap<ConnectionId, Vec<String>>>,
}

impl SimPush {
    /// No open connections.
    pub fn new(ctx: Arc<Ctx>) -> Self {
        Self {
            inner: MemoryPush::new(),
            ctx,
            frames: Mutex::new(BTreeMap::new()),
            lost: Mutex::new(BTreeMap::new()),
        }
    }

    /// Opens a connection (API Gateway accepted it).
    pub fn open(&self, connection: &ConnectionId) {
        self.inner.open(connection);
    }

    /// Closes a connection; later pushes to it are `Gone`.
    pub fn close(&self, connection: &ConnectionId) {
        self.inner.close(connection);
    }

    /// Takes the frames delivered to a connection so far.
    pub fn take(&self, connection: &ConnectionId) -> Vec<String> {
        lock(&self.frames).remove(connection).unwrap_or_default()
    }

    /// Takes the frames pushed to a connection so far but lost on the way.
    pub fn take_lost(&self, connection: &ConnectionId) -> Vec<String> {
        lock(&self.lost).remove(connection).unwrap_or_default()
    }

    fn lose(&self, connection: &ConnectionId, json: &str) {
        lock(&self.lost)
            .entry(connection.clone())
            .or_default()
            .push(json.to_string());
    }
}

#[derive(Debug)]
struct SimPushFailure;

impl std::fmt::Display for SimPushFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("simulated push failure")
    }
}

impl std::error::Error for SimPushFailure {}

#[async_trait]
impl Push for SimPush {
    async fn push(&self, connection: &ConnectionId, json: &str) -> Result<Delivery, PushError> {
        tokio::task::yield_now().await;
        if self.inner.push(connection, json).await? == Delivery::Gone {
            self.ctx.count_fault("push_to_closed_connection");
            self.lose(connection, json);
            return Ok(Delivery::Gone);
        }
        let frames = self.inner.take(connection);
        if self.ctx.inject("push_gone", self.ctx.rates.push_gone, || {
            connection.to_string()
        }) {
            self.inner.close(connection);
            lock(&self.ctx.dropped).push(connection.clone());
            self.lose(connection, json);
            return Ok(Delivery::Gone);
        }
        if self
            .ctx
            .inject("push_failed", self.ctx.rates.push_error, || {
                connection.to_string()
            })
        {
            self.lose(connection, json);
            return Err(PushError {
                connection: connection.clone(),
                source: Box::new(SimPushFailure),
            });
        }
        lock(&self.frames)
            .entry(connection.clone())
            .or_default()
            .extend(frames);
        Ok(Delivery::Delivered)
    }

    /// The server closes the connection: the client notices as of a drop.
    async fn close(&self, connection: &ConnectionId) -> Result<Delivery, PushError> {
        tokio::task::yield_now().await;
        let closed = Push::close(&self.inner, connection).await?;
        if closed == Delivery::Delivered {
            lock(&self.ctx.dropped).push(connection.clone());
        }
        Ok(closed)
    }
}

/// [`MemoryScheduler`] that delays, duplicates and reorders deliveries.
pub struct SimScheduler {
    inner: MemoryScheduler,
    ctx: Arc<Ctx>,
}

impl SimScheduler {
    /// An empty queue.
    pub fn new(ctx: Arc<Ctx>) -> Self {
        Self {
            inner: MemoryScheduler::new(),
            ctx,
        }
    }

    /// The events due at `now`, in a seeded order.
    pub fn take_due(&self, now: Timestamp) -> Vec<DelayedEvent> {
        let mut due = self.inner.take_due(now);
        if self.ctx.faults_on() && due.len() > 1 {
            self.ctx.rng(|r| r.shuffle(&mut due));
            self.ctx.count_fault("events_reordered");
        }
        due
    }

    /// Puts back an event whose handler failed, for after the visibility timeout.
    pub async fn redeliver(&self, event: DelayedEvent, now: Timestamp) {
        let at = now.saturating_add(VISIBILITY_TIMEOUT).unwrap_or(now);
        let _ = self.inner.schedule(event, at).await;
    }

    /// The events waiting, with their times.
    pub fn pending(&self) -> Vec<(Timestamp, DelayedEvent)> {
        self.inner.pending()
    }
}

#[async_trait]
impl Scheduler for SimScheduler {
    async fn schedule(&self, event: DelayedEvent, at: Timestamp) -> Result<(), SchedulerError> {
        tokio::task::yield_now().await;
        let mut at = at;
        if self
            .ctx
            .inject("late_event", self.ctx.rates.late_event, || {
                self.ctx.event(&event)
            })
        {
            let late = self.ctx.rng(|r| r.i64(1..=120));
            at = at
                .saturating_add(SignedDuration::from_secs(late))
                .unwrap_or(at);
        }
        if self
            .ctx
            .inject("duplicate_event", self.ctx.rates.duplicate_event, || {
                self.ctx.event(&event)
            })
        {
            let later = self.ctx.rng(|r| r.i64(0..=300));
            let copy_at = at
                .saturating_add(SignedDuration::from_secs(later))
                .unwrap_or(at);
            self.inner.schedule(event.clone(), copy_at).await?;
        }
        self.inner.schedule(event, at).await
    }
}
