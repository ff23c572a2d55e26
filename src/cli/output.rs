//! User-facing output: deliberate lines, colored only on a terminal (anstream strips styles when
//! stdout is not a TTY or `NO_COLOR` is set), tables aligned by display width.

pub use crate::presentation::{
    BOLD, CYAN, DIM, GREEN, RED, YELLOW, human_ms, paint, phase_style, service_style,
};

/// A table: header row plus rows, columns padded to the widest cell (by characters, ignoring
/// ANSI styles). The last column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let cols = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(visible_width(cell));
        }
    }
    let mut out = String::new();
    let render = |cells: Vec<String>, out: &mut String| {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < cells.len() {
                let pad = widths[i].saturating_sub(visible_width(cell)) + 2;
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    render(header.iter().map(|h| paint(BOLD, h)).collect(), &mut out);
    for row in rows {
        render(row.clone(), &mut out);
    }
    out
}

/// Width of a string as shown: characters outside ANSI escape sequences.
pub fn visible_width(s: &str) -> usize {
    let mut width = 0;
    let mut in_escape = false;
    for c in s.chars() {
        if in_escape {
            if c.is_ascii_alphabetic() {
                in_escape = false;
            }
        } else if c == '\u{1b}' {
            in_escape = true;
        } else {
            width += 1;
        }
    }
    width
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_ignoring_styles() {
        let rows = vec![
            vec![paint(GREEN, "db"), "ready".into()],
            vec!["webserver".into(), "failed".into()],
        ];
        let text = table(&["SERVICE", "STATE"], &rows);
        let plain: Vec<String> = text
            .lines()
            .map(|l| anstream::adapter::strip_str(l).to_string())
            .collect();
        assert_eq!(plain[0], "SERVICE    STATE");
        assert_eq!(plain[1], "db         ready");
        assert_eq!(plain[2], "webserver  failed");
    }
}
