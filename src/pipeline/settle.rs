//! The admission's end: the response body settles the request's token
//! reservation with the usage the upstream reported, when its last frame
//! leaves (before the client sees the end) or when it is dropped early.

use std::sync::Arc;

use axum::response::Response;

use crate::limits::Admission;
use crate::telemetry::RequestRecord;

/// `resp` with `admission` held by its body.
pub fn hold(resp: Response, admission: Admission, record: Arc<RequestRecord>) -> Response {
    let succeeded = resp.status().is_success();
    resp.map(|inner| {
        crate::body::on_end(inner, move |_| {
            let used = record.read(|f| f.usage.map(|u| u.prompt_tokens + u.completion_tokens));
            admission.finish(used, succeeded);
        })
    })
}
