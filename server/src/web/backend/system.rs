//! Steward itself: its background workers.

use super::*;

#[async_trait]
impl SystemApi for WebBackend {
    async fn list_workers(&self, _caller: &Caller) -> Result<Vec<WorkerStatus>> {
        Ok(self.state.workers.statuses())
    }
}
