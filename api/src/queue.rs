//! This process's part of the queue of asynchronous generations (the queue itself is in the
//! database: see [`apinfer_core::queueing`]): its worker id, the generations it runs, and the
//! signal that wakes its dispatcher (see [`crate::dispatcher`]).

use std::collections::HashMap;
use std::sync::Mutex;

use apinfer_core::ids::{random_base62, GenerationId};
use tokio::sync::Notify;
use tokio::task::{AbortHandle, JoinHandle};

/// This process's part of the queue: its worker id, and the generations it runs.
pub struct GenerationQueue {
    worker: String,
    wake: Notify,
    running: Mutex<HashMap<GenerationId, AbortHandle>>,
}

impl Default for GenerationQueue {
    fn default() -> Self {
        GenerationQueue {
            worker: format!("wrk_{}", random_base62(16)),
            wake: Notify::new(),
            running: Mutex::new(HashMap::new()),
        }
    }
}

impl GenerationQueue {
    /// Tells the dispatcher there may be work (a generation was queued, or a slot freed).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Stops this process's task running the generation, if it runs one: its provider call is
    /// abandoned. The caller has already released the hold (a capture would find nothing to
    /// charge).
    pub fn abandon(&self, id: &GenerationId) {
        if let Some(task) = self.running.lock().expect("queue lock").remove(id) {
            task.abort();
            self.wake();
        }
    }

    /// The generations this process is running.
    pub fn running(&self) -> Vec<GenerationId> {
        self.running.lock().expect("queue lock").keys().cloned().collect()
    }

    /// This process's worker id, which its claims carry.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// Waits for [`GenerationQueue::wake`].
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Runs the task `spawn` starts for a generation, so that it can be abandoned. It is
    /// recorded under the lock [`GenerationQueue::finished`] takes, so its end always finds it.
    pub fn track(&self, id: GenerationId, spawn: impl FnOnce() -> JoinHandle<()>) {
        let mut running = self.running.lock().expect("queue lock");
        let task = spawn();
        running.insert(id, task.abort_handle());
    }

    /// A task's end: its slot is free.
    pub fn finished(&self, id: &GenerationId) {
        self.running.lock().expect("queue lock").remove(id);
        self.wake();
    }
}
