//! What the CLI and the TUI both show the same way: container output made safe for a terminal.
//! Knows nothing of either front end (both depend on it, never the other way round).

/// Container output as shown on a terminal: escape sequences of every kind dropped (colours,
/// cursor moves, and the dangerous ones: titles, clipboard writes, hyperlinks), tabs expanded,
/// other control characters dropped, cut at `max_chars` (ending in `…`). Returns the input
/// untouched when it is clean and short.
pub fn clean_text(text: String, max_chars: usize) -> String {
    let has_controls = text.bytes().any(|b| b < 0x20 || b == 0x7f)
        || text.contains('\u{9b}')
        || text.contains('\u{9d}');
    if !has_controls && text.len() <= max_chars {
        return text;
    }
    let text = if has_controls {
        strip_ansi_escapes::strip_str(text.replace('\t', "    "))
    } else {
        text
    };
    if text.chars().nth(max_chars).is_none() {
        return text;
    }
    let mut cut: String = text.chars().take(max_chars).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_tabs_and_controls_are_cleaned() {
        assert_eq!(
            clean_text("\u{1b}[31mred\u{1b}[0m\tdone".into(), 100),
            "red    done"
        );
        assert_eq!(clean_text("bell\u{7}\u{8}!".into(), 100), "bell!");
    }

    #[test]
    fn terminal_hijacking_sequences_are_removed_whole() {
        // Window title (OSC 0), clipboard write (OSC 52), hyperlink (OSC 8), with BEL and ST.
        let hostile =
            "a\u{1b}]0;pwned\u{7}b\u{1b}]52;c;ZXZpbA==\u{1b}\\c\u{1b}]8;;http://x\u{1b}\\d";
        assert_eq!(clean_text(hostile.into(), 100), "abcd");
    }

    #[test]
    fn long_lines_are_cut_and_clean_ones_kept_as_they_are() {
        let clean = "plain text".to_string();
        assert_eq!(clean_text(clean.clone(), 100), clean);
        let cut = clean_text("x".repeat(30), 10);
        assert_eq!(cut, format!("{}…", "x".repeat(10)));
        assert_eq!(clean_text("é".repeat(5), 5), "é".repeat(5));
    }
}
