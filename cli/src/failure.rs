//! What a failed command is called: its exit status, a stable snake_case kind, the file it concerns
//! and its message, for stderr and for the `{"error": {…}}` object `--json` prints on stdout.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::commands::{Interrupted, PartialSuccess, UsageError};

/// Whether the failure is only stdout closed under us (`| head`): not a failure of the operation.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}

/// The exit status of a failed command (see `--help`).
pub fn exit_status(err: &anyhow::Error) -> u8 {
    if err.downcast_ref::<PartialSuccess>().is_some() {
        3
    } else if err.downcast_ref::<UsageError>().is_some() {
        2
    } else if err.downcast_ref::<Interrupted>().is_some() {
        130
    } else {
        1
    }
}

/// The message and its causes, each said once (a cause whose words the message already carries is
/// left out), in order.
pub fn lines(err: &anyhow::Error) -> Vec<String> {
    if err.downcast_ref::<Interrupted>().is_some() {
        // The context is the flag; the engine's own words say what was left as it was.
        return err.chain().skip(1).map(|c| c.to_string()).collect();
    }
    let mut out = vec![err.to_string()];
    let mut said = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !said.contains(&text) {
            said.push_str(&text);
            out.push(text);
        }
    }
    out
}

/// A stable snake_case name of what went wrong: the engine error's variant (`locked`,
/// `no_such_image`, `destination_exists`, …), the CLI's own (`usage`, `partial_success`,
/// `interrupted`, `not_applicable`, `no_package_applied`), an I/O error's kind (`not_found`), or
/// `failed`.
pub fn kind(err: &anyhow::Error) -> String {
    if err.downcast_ref::<Interrupted>().is_some() {
        return "interrupted".into();
    }
    if let Some(own) = err.chain().find_map(|c| c.downcast_ref::<crate::commands::Kinded>()) {
        return own.kind().into();
    }
    if err.downcast_ref::<PartialSuccess>().is_some() {
        return "partial_success".into();
    }
    if err.downcast_ref::<UsageError>().is_some() {
        return "usage".into();
    }
    let io = err
        .chain()
        .find_map(|c| c.downcast_ref::<std::io::Error>())
        .map(|io| servicing::cbs::json_word::snake_case_word(&format!("{:?}", io.kind())));
    for cause in err.chain() {
        if let Some(k) = engine_debug(cause).and_then(|debug| variant_kind(&debug)) {
            // An engine `Io` variant says more by its OS error's kind (`not_found`, `permission_denied`).
            // (`Io(IoError { … })`: the shared I/O error struct.)
            return if k == "io" || k == "io_error" { io.unwrap_or(k) } else { k };
        }
    }
    io.unwrap_or_else(|| "failed".into())
}

/// The Debug text of `cause` when it is one of the engine's error enums.
fn engine_debug(cause: &(dyn std::error::Error + 'static)) -> Option<String> {
    macro_rules! try_types {
        ($($t:ty),* $(,)?) => {
            $(if let Some(e) = cause.downcast_ref::<$t>() { return Some(format!("{e:?}")); })*
        };
    }
    try_types!(
        servicing::wim::Error,
        servicing::apply::Error,
        servicing::site::Error,
        servicing::mount::MountError,
        servicing::hive::Error,
        servicing::cbs::package::Error,
        servicing::cbs::container::Error,
        servicing::cbs::delta::DeltaError,
        servicing::cbs::delta::ExpandError,
    );
    None
}

/// The innermost variant name of an engine error's Debug text, through wrapper variants:
/// `Wim(Locked { … })` → `locked`, `NotASite { … }` → `not_a_site`.
fn variant_kind(debug: &str) -> Option<String> {
    let mut rest = debug;
    let mut last = None;
    loop {
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if end == 0 || !rest.starts_with(|c: char| c.is_ascii_uppercase()) {
            break;
        }
        last = Some(&rest[..end]);
        rest = &rest[end..];
        // A wrapper variant: `Ident(` followed by another variant name.
        match rest.strip_prefix('(') {
            Some(inner) if inner.starts_with(|c: char| c.is_ascii_uppercase()) => rest = inner,
            _ => break,
        }
    }
    last.map(servicing::cbs::json_word::snake_case_word)
}

/// The file the failure concerns: the one an engine WIM error names, else the command's input.
pub fn input(err: &anyhow::Error, command_input: Option<&PathBuf>) -> Option<String> {
    use servicing::wim::Error as W;
    let named = err.chain().find_map(|c| match c.downcast_ref::<W>()? {
        W::Wimlib { path, .. }
        | W::NoSuchImage { path, .. }
        | W::AmbiguousImageName { path, .. }
        | W::DestinationExists { path }
        | W::Locked { path, .. }
        | W::Cancelled { path, .. }
        | W::Invalid { path, .. } => Some(path.clone()),
        W::Io(e) => Some(e.path.clone()),
        _ => None,
    });
    named.or_else(|| command_input.cloned()).map(|p| p.display().to_string())
}

/// The JSON `--json` prints for a failure: `report` (what the command had to say before it failed,
/// if anything) with `"ok": false` and `"error": {"message", "input", "code", "exit_status"}`.
pub fn json(err: &anyhow::Error, report: Option<Value>, command_input: Option<&PathBuf>) -> Value {
    let error = json!({
        "message": lines(err).join(": "),
        "input": input(err, command_input),
        "code": kind(err),
        "exit_status": exit_status(err),
    });
    match report {
        Some(Value::Object(mut map)) => {
            map.insert("ok".into(), Value::Bool(false));
            map.insert("error".into(), error);
            Value::Object(map)
        }
        Some(other) => json!({ "ok": false, "result": other, "error": error }),
        None => json!({ "ok": false, "error": error }),
    }
}

#[cfg(test)]
mod tests {
    use super::variant_kind;

    #[test]
    fn variant_kind_reads_through_wrappers() {
        assert_eq!(variant_kind(r#"Wim(Locked { path: "/a.wim" })"#).as_deref(), Some("locked"));
        assert_eq!(variant_kind(r#"NotASite { path: "/s" }"#).as_deref(), Some("not_a_site"));
        assert_eq!(variant_kind(r#"Invalid("x")"#).as_deref(), Some("invalid"));
        assert_eq!(variant_kind(r#""text""#), None);
    }
}
