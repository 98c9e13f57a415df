//! CPU-bound work (searching a cron expression's due times, rendering templates) runs off the
//! async runtime, a few at a time, with a deadline: a request that asks for something costly
//! waits for its own answer and never stalls the others (health checks, pages, jobs).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

/// Why offloaded work gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OffloadError {
    #[error("it took longer than {} s", .0.as_secs())]
    TimedOut(Duration),
    #[error("Steward is shutting down")]
    Stopped,
}

#[derive(Debug, Clone)]
pub struct Offload {
    permits: Arc<Semaphore>,
}

impl Offload {
    /// At most `parallel` pieces of work run at once; others wait their turn (within their
    /// deadline).
    pub fn new(parallel: usize) -> Self {
        Self { permits: Arc::new(Semaphore::new(parallel.max(1))) }
    }

    /// Runs `work` on a blocking thread. The deadline covers the wait for a turn and the work;
    /// work that overruns it keeps its turn until it ends, so overruns cannot pile up.
    pub async fn run<T: Send + 'static>(
        &self,
        deadline: Duration,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, OffloadError> {
        let permits = self.permits.clone();
        let task = async move {
            let permit = permits.acquire_owned().await.map_err(|_| OffloadError::Stopped)?;
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                work()
            })
            .await
            .map_err(|_| OffloadError::Stopped)
        };
        tokio::time::timeout(deadline, task).await.map_err(|_| OffloadError::TimedOut(deadline))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_that_overruns_its_deadline_is_abandoned_but_keeps_its_turn() {
        let offload = Offload::new(1);
        assert_eq!(offload.run(Duration::from_secs(5), || 2 + 2).await, Ok(4));
        let slow = offload.run(Duration::from_millis(50), || std::thread::sleep(Duration::from_millis(400))).await;
        assert_eq!(slow, Err(OffloadError::TimedOut(Duration::from_millis(50))));
        // The slow work still holds the only turn: the next one waits past its own deadline.
        let next = offload.run(Duration::from_millis(50), || 1).await;
        assert!(next.is_err());
        assert_eq!(offload.run(Duration::from_secs(5), || 1).await, Ok(1));
    }
}
