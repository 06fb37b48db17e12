//! The keys that depend on a provider's protocol: the protocol's `Spec`
//! reads its own; a key another protocol reads is refused naming it, any
//! other key as unknown.

use std::sync::Arc;

use super::checker::Checker;
use crate::protocol::{self, Options, Protocol, Spec, PROTOCOLS};

/// The provider's protocol with its options, and its spec; `None` when
/// `backend_type` names no protocol.
pub(super) fn provider(
    c: &mut Checker,
    path: &str,
    backend_type: &str,
    keys: &toml::Table,
    common: &[&str],
) -> Option<(&'static Spec, Arc<dyn Protocol>)> {
    let Some(spec) = protocol::spec(backend_type) else {
        let known: Vec<&str> = PROTOCOLS
            .iter()
            .flat_map(|s| std::iter::once(s.name).chain(s.aliases.iter().copied()))
            .collect();
        c.error(
            format!("{path}.backend_type"),
            format!(
                "unknown backend type {backend_type:?} (known: {})",
                known.join(", ")
            ),
        );
        return None;
    };
    foreign_keys(
        c,
        path,
        spec,
        keys,
        |s| s.provider_keys,
        "providers",
        common,
    );
    let mut options = Options::new(keys);
    let protocol = (spec.new)(&mut options);
    noted(c, path, options);
    Some((spec, protocol))
}

/// Where the backend's URLs address its model, per its provider's protocol.
pub(super) fn address(
    c: &mut Checker,
    path: &str,
    spec: &Spec,
    model: &str,
    keys: &toml::Table,
    common: &[&str],
) -> String {
    foreign_keys(
        c,
        path,
        spec,
        keys,
        |s| s.backend_keys,
        "backends of providers",
        common,
    );
    let mut options = Options::new(keys);
    let address = (spec.address)(model, &mut options);
    noted(c, path, options);
    address
}

fn noted(c: &mut Checker, path: &str, options: Options) {
    for (key, message) in options.into_errors() {
        c.error(format!("{path}.{key}"), message);
    }
}

/// Refuses the keys `spec` does not read: another protocol's, or unknown.
fn foreign_keys(
    c: &mut Checker,
    path: &str,
    spec: &Spec,
    keys: &toml::Table,
    of: fn(&Spec) -> &'static [&'static str],
    what: &str,
    common: &[&str],
) {
    for key in keys.keys() {
        if of(spec).contains(&key.as_str()) {
            continue;
        }
        let owners: Vec<String> = PROTOCOLS
            .iter()
            .filter(|s| of(s).contains(&key.as_str()))
            .map(|s| format!("\"{}\"", s.name))
            .collect();
        let message = match owners.is_empty() {
            false => format!(
                "only applies to {what} with backend_type = {} (this one is \"{}\")",
                owners.join(" or "),
                spec.name
            ),
            true => {
                let expected: Vec<String> = common
                    .iter()
                    .chain(of(spec))
                    .map(|k| format!("`{k}`"))
                    .collect();
                format!(
                    "unknown field `{key}`, expected one of {}",
                    expected.join(", ")
                )
            }
        };
        c.error(format!("{path}.{key}"), message);
    }
}
