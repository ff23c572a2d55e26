//! Host paths: made absolute against the declaring file's directory, `~` expanded.

use super::*;

// ---- paths -----------------------------------------------------------------------------------

/// `path` made absolute against `dir`, with `.` and `..` removed lexically (no symlink lookups:
/// the path may not exist yet).
pub fn resolve(dir: &Path, path: &str) -> PathBuf {
    let joined = dir.join(path);
    normalize(&joined)
}

pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// A host path: `~/x` from `$HOME`, relative to the file's directory, or absolute.
pub(super) fn host_path(cx: &mut Context<'_>, path: &str, pos: &Pos) -> Option<PathBuf> {
    if path == "~" || path.starts_with("~/") {
        let Some(home) = (cx.lookup)("HOME") else {
            cx.report
                .error(pos, format!("cannot expand `{path}`: HOME is not set"));
            return None;
        };
        let rest = path.trim_start_matches('~').trim_start_matches('/');
        return Some(normalize(&Path::new(&home).join(rest)));
    }
    Some(resolve(&cx.dir, path))
}
