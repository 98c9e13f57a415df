//! A job's progress and log streamed to the browser as server-sent events. Reads the database
//! (so a browser connected to any replica follows a job running on another); resumes after
//! the last line the browser has (`Last-Event-ID`, sent by EventSource on reconnect, or
//! `?after=`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use http::request::Parts;
use serde::Deserialize;
use steward_frontend::contract::{AppError, Backend, JobHostResult, JobSummary, Scope};

use crate::state::AppState;
use crate::web::error::ApiError;

const POLL: Duration = Duration::from_millis(300);
const LINES_PER_EVENT_BATCH: i64 = 500;

#[derive(Debug, Deserialize)]
pub struct After {
    after: Option<i64>,
}

#[derive(serde::Serialize, PartialEq)]
struct Progress {
    job: JobSummary,
    hosts: Vec<JobHostResult>,
}

struct Follow {
    state: AppState,
    job_id: i64,
    after: i64,
    last_progress: Option<String>,
    pending: std::collections::VecDeque<Event>,
    finished: bool,
}

pub async fn job_events(
    backend: Arc<dyn Backend>,
    state: AppState,
    parts: Parts,
    Path(job_id): Path<i64>,
    Query(query): Query<After>,
) -> Response {
    if let Err(err) = backend.authorize(&parts, "job_events", Scope::Job(job_id)).await {
        return ApiError(err).into_response();
    }
    let resume = parts.headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i64>().ok());
    let after = resume.or(query.after).unwrap_or(0);
    let follow = Follow { state, job_id, after, last_progress: None, pending: Default::default(), finished: false };
    Sse::new(events(follow)).keep_alive(KeepAlive::default()).into_response()
}

/// The whole stored log as a text file.
pub async fn job_log_file(
    backend: Arc<dyn Backend>,
    state: AppState,
    parts: Parts,
    Path(job_id): Path<i64>,
) -> Response {
    if let Err(err) = backend.authorize(&parts, "job_log_file", Scope::Job(job_id)).await {
        return ApiError(err).into_response();
    }
    let mut text = String::new();
    let mut after = 0;
    loop {
        let lines = match state.jobs.log_after(job_id, after, 5000).await {
            Ok(lines) => lines,
            Err(err) => return ApiError::from(err).into_response(),
        };
        if lines.is_empty() {
            break;
        }
        for line in &lines {
            text.push_str(&format!(
                "{}  {}\n",
                line.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                line.line
            ));
            after = line.seq;
        }
    }
    let disposition = format!("attachment; filename=\"steward-job-{job_id}.log\"");
    (
        [
            (http::header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (http::header::CONTENT_DISPOSITION, disposition),
        ],
        text,
    )
        .into_response()
}

fn events(follow: Follow) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(follow, |mut follow| async move {
        loop {
            if let Some(event) = follow.pending.pop_front() {
                return Some((Ok(event), follow));
            }
            if follow.finished {
                return None;
            }
            match poll(&mut follow).await {
                Ok(()) if follow.pending.is_empty() => tokio::time::sleep(POLL).await,
                Ok(()) => {}
                Err(err) => {
                    tracing::debug!(job = follow.job_id, error = %err, "job stream ended");
                    return None;
                }
            }
        }
    })
}

/// Queues new log lines, changed progress, and the end once the job finished and its log is
/// drained.
async fn poll(follow: &mut Follow) -> Result<(), AppError> {
    let jobs = &follow.state.jobs;
    let lines = jobs.log_after(follow.job_id, follow.after, LINES_PER_EVENT_BATCH).await?;
    let drained = (lines.len() as i64) < LINES_PER_EVENT_BATCH;
    for line in lines {
        follow.after = line.seq;
        let data = serde_json::to_string(&line).unwrap_or_default();
        follow.pending.push_back(Event::default().event("line").id(line.seq.to_string()).data(data));
    }
    let detail = jobs.detail_without_log(follow.job_id).await?;
    let finished = detail.0.finished();
    let progress = serde_json::to_string(&Progress { job: detail.0, hosts: detail.1 }).unwrap_or_default();
    if follow.last_progress.as_deref() != Some(progress.as_str()) {
        follow.pending.push_back(Event::default().event("progress").data(progress.clone()));
        follow.last_progress = Some(progress);
    }
    if finished && drained {
        follow.pending.push_back(Event::default().event("end").data("end"));
        follow.finished = true;
    }
    Ok(())
}
