//! Active health checks in each backend's own protocol, with its own key
//! and headers. A protocol adds one match arm to [`models_request`]; chat
//! probes go through [`super::build_request`] like any request.

use axum::http::Method;
use bytes::Bytes;

use super::{ChatRequest, RequestError, UpstreamRequest};
use crate::config::{Backend, BackendType, ProbeKind};

/// One probe: a method plus the same parts as any upstream request.
pub struct ProbeRequest {
    pub method: Method,
    pub upstream: UpstreamRequest,
}

/// The probe of `kind` for `backend`; `None` for [`ProbeKind::None`].
pub fn probe_request(
    backend: &Backend,
    kind: ProbeKind,
) -> Result<Option<ProbeRequest>, RequestError> {
    match kind {
        ProbeKind::None => Ok(None),
        ProbeKind::Models => Ok(Some(ProbeRequest {
            method: Method::GET,
            upstream: models_request(backend),
        })),
        ProbeKind::Chat => {
            let req = ChatRequest::parse(CHAT_PROBE)?;
            Ok(Some(ProbeRequest {
                method: Method::POST,
                upstream: super::build_request(backend, &req)?,
            }))
        }
    }
}

/// The smallest completion that still exercises the model.
const CHAT_PROBE: &[u8] =
    br#"{"model":"probe","messages":[{"role":"user","content":"ping"}],"max_tokens":1}"#;

/// The free "list models" call of each protocol.
fn models_request(backend: &Backend) -> UpstreamRequest {
    let provider = &backend.provider;
    match provider.backend_type {
        BackendType::OpenAi => UpstreamRequest {
            url: format!("{}/models", provider.base_url),
            headers: provider
                .api_key
                .iter()
                .map(|k| ("authorization", format!("Bearer {}", k.expose())))
                .collect(),
            body: Bytes::new(),
        },
    }
}
