//! The scoring worker pool: CPU-bound work on a few dedicated threads, so
//! scoring overlaps with requests in flight instead of stalling the async
//! runtime that drives them.
//!
//! The pool has cores − 1 workers (at least one), leaving a core for the
//! runtime and the database thread. It counts tasks, busy time and the most
//! tasks it ever ran at once, which become run metrics.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

type Task = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Counters {
    tasks: AtomicU64,
    busy_ns: AtomicU64,
    active: AtomicUsize,
    max_active: AtomicUsize,
}

/// A fixed set of worker threads.
pub struct Pool {
    sender: Mutex<Option<mpsc::Sender<Task>>>,
    workers: Vec<JoinHandle<()>>,
    counters: Arc<Counters>,
    started: Instant,
}

/// What the pool did.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolStats {
    pub size: usize,
    pub tasks: u64,
    pub busy: Duration,
    /// Busy time over the pool's capacity (size × time alive), 0 to 1.
    pub utilization: f64,
    pub max_active: usize,
}

impl Pool {
    /// cores − 1 workers, at least one.
    pub fn default_size() -> usize {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get().saturating_sub(1))
            .max(1)
    }

    pub fn new(size: usize) -> Pool {
        let size = size.max(1);
        let (sender, receiver) = mpsc::channel::<Task>();
        let receiver = Arc::new(Mutex::new(receiver));
        let counters = Arc::new(Counters::default());
        let workers = (0..size)
            .map(|i| {
                let receiver = Arc::clone(&receiver);
                std::thread::Builder::new()
                    .name(format!("ai-evals-score-{i}"))
                    .spawn(move || {
                        loop {
                            let task = {
                                let receiver = receiver.lock().unwrap_or_else(|e| e.into_inner());
                                receiver.recv()
                            };
                            let Ok(task) = task else {
                                return;
                            };
                            task();
                        }
                    })
                    .expect("the scoring pool's threads start")
            })
            .collect();
        Pool {
            sender: Mutex::new(Some(sender)),
            workers,
            counters,
            started: Instant::now(),
        }
    }

    pub fn size(&self) -> usize {
        self.workers.len()
    }

    /// Runs `work` on a worker and waits for its result without blocking the
    /// async runtime.
    pub async fn run<R, F>(&self, work: F) -> R
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let counters = Arc::clone(&self.counters);
        // Counted before the reply goes out, so a caller that has its
        // result sees the task in the stats.
        let task: Task = Box::new(move || {
            let active = counters.active.fetch_add(1, Ordering::SeqCst) + 1;
            counters.max_active.fetch_max(active, Ordering::SeqCst);
            let started = Instant::now();
            let result = work();
            counters
                .busy_ns
                .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            counters.tasks.fetch_add(1, Ordering::Relaxed);
            counters.active.fetch_sub(1, Ordering::SeqCst);
            let _ = reply.send(result);
        });
        self.sender
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .expect("the pool is open while it is in use")
            .send(task)
            .expect("the pool's workers outlive their sender");
        answer
            .await
            .expect("a pool task panicked; the panic message is above")
    }

    pub fn stats(&self) -> PoolStats {
        let busy = Duration::from_nanos(self.counters.busy_ns.load(Ordering::Relaxed));
        let capacity = self.started.elapsed().as_secs_f64() * self.size() as f64;
        PoolStats {
            size: self.size(),
            tasks: self.counters.tasks.load(Ordering::Relaxed),
            busy,
            utilization: if capacity > 0.0 {
                (busy.as_secs_f64() / capacity).min(1.0)
            } else {
                0.0
            },
            max_active: self.counters.max_active.load(Ordering::SeqCst),
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.sender.lock().unwrap_or_else(|e| e.into_inner()).take();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_more_tasks_at_once_than_workers() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        for size in [1, 3] {
            let pool = Arc::new(Pool::new(size));
            let running = Arc::new(AtomicUsize::new(0));
            let seen = Arc::new(AtomicUsize::new(0));
            runtime.block_on(async {
                let tasks = (0..40).map(|i| {
                    let (running, seen) = (Arc::clone(&running), Arc::clone(&seen));
                    let pool = Arc::clone(&pool);
                    async move {
                        pool.run(move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            seen.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(2));
                            running.fetch_sub(1, Ordering::SeqCst);
                            i * 2
                        })
                        .await
                    }
                });
                let results = futures::future::join_all(tasks).await;
                assert_eq!(results, (0..40).map(|i| i * 2).collect::<Vec<_>>());
            });
            assert!(seen.load(Ordering::SeqCst) <= size, "size {size}: {seen:?}");
            let stats = pool.stats();
            assert_eq!(stats.tasks, 40);
            assert!(stats.max_active <= size);
            assert!(stats.busy >= Duration::from_millis(80), "{stats:?}");
            assert!((0.0..=1.0).contains(&stats.utilization));
        }
    }

    #[test]
    fn default_size_leaves_a_core() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(Pool::default_size(), cores.saturating_sub(1).max(1));
    }
}
