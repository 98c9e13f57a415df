//! Jobs that end together are recorded together: each job hands its outcome (and its last log
//! lines) to one writer, which writes whatever has arrived in one transaction and tells each
//! job when its outcome is stored. A burst of short jobs then costs a few commits, not one
//! or two per job.

use tokio::sync::{mpsc, oneshot};

use crate::clock::SharedClock;
use crate::store::{JobEnd, Store};

/// Most outcomes written in one transaction.
const BATCH: usize = 512;

type Reply = oneshot::Sender<Result<bool, String>>;

#[derive(Debug)]
pub(crate) struct Finisher {
    tx: mpsc::UnboundedSender<(JobEnd, Reply)>,
}

impl Finisher {
    /// Starts the writer; it stops when the engine is dropped.
    pub(crate) fn start(store: Store, clock: SharedClock) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<(JobEnd, Reply)>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < BATCH
                    && let Ok(next) = rx.try_recv()
                {
                    batch.push(next);
                }
                let ends: Vec<JobEnd> = batch.iter().map(|(end, _)| end.clone()).collect();
                match store.finish_jobs(&ends, clock.now()).await {
                    Ok(done) => {
                        for ((_, reply), done) in batch.into_iter().zip(done) {
                            let _ = reply.send(Ok(done));
                        }
                    }
                    Err(err) => {
                        let message = err.to_string();
                        for (_, reply) in batch {
                            let _ = reply.send(Err(message.clone()));
                        }
                    }
                }
            }
        });
        Self { tx }
    }

    /// Records a job's end; false when its lease was lost before.
    pub(crate) async fn finish(&self, end: JobEnd) -> Result<bool, String> {
        let (reply, answer) = oneshot::channel();
        self.tx.send((end, reply)).map_err(|_| "the job outcome writer stopped".to_owned())?;
        answer.await.map_err(|_| "the job outcome writer stopped".to_owned())?
    }
}
