//! Keys and mouse → [`Action`]s. Pure: what a key means depends only on the mode (normal, typing
//! a filter, an overlay open) and, for the mouse, on where the log pane is. Nothing here changes
//! state; `App::act` does.

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};

/// Lines one mouse wheel notch scrolls.
pub const WHEEL_LINES: u16 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    SelectPrev,
    SelectNext,
    /// Log pane: selected service ↔ all (on a folded tier: unfold it).
    ToggleFocus,
    /// Fold the selected service's tier into one row, or unfold the folded tier selected.
    ToggleTier,
    /// Fold every tier, or unfold them all.
    ToggleAllTiers,
    /// The dev-loop panel in the log pane's place, or the logs again.
    ToggleDevLoop,
    Rebuild,
    Restart,
    /// Stop a running service, start a stopped one.
    StopStart,
    ShowConnection,
    ShowHelp,
    CloseOverlay,
    OpenFilter,
    PromptChar(char),
    PromptBackspace,
    PromptSubmit,
    PromptCancel,
    /// Clear the error highlight, else the filter, else follow again.
    Escape,
    NextError,
    PrevError,
    ScrollUp(u16),
    ScrollDown(u16),
    PageUp,
    PageDown,
    Top,
    Follow,
}

/// What an input event means, if anything.
/// What the keyboard is talking to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Typing a filter after `/`.
    Prompt,
    Overlay,
}

pub fn map(event: &Event, mode: Mode, log_area: Rect) -> Option<Action> {
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => map_key(key, mode),
        Event::Mouse(mouse) => map_mouse(mouse, mode, log_area),
        _ => None,
    }
}

fn map_key(key: &KeyEvent, mode: Mode) -> Option<Action> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c')) {
        return Some(Action::Quit);
    }
    match mode {
        Mode::Prompt => match key.code {
            KeyCode::Enter => Some(Action::PromptSubmit),
            KeyCode::Esc => Some(Action::PromptCancel),
            KeyCode::Backspace => Some(Action::PromptBackspace),
            KeyCode::Char(c) if !ctrl => Some(Action::PromptChar(c)),
            _ => None,
        },
        Mode::Overlay => match key.code {
            KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') => Some(Action::CloseOverlay),
            KeyCode::Char('?') => Some(Action::ShowHelp),
            KeyCode::Char('c') => Some(Action::ShowConnection),
            _ => None,
        },
        Mode::Normal => match key.code {
            KeyCode::Char('q') => Some(Action::Quit),
            KeyCode::Up | KeyCode::Char('k') => Some(Action::SelectPrev),
            KeyCode::Down | KeyCode::Char('j') => Some(Action::SelectNext),
            KeyCode::Enter => Some(Action::ToggleFocus),
            KeyCode::Char('r') => Some(Action::Rebuild),
            KeyCode::Char('R') => Some(Action::Restart),
            KeyCode::Char('s') => Some(Action::StopStart),
            KeyCode::Char('c') => Some(Action::ShowConnection),
            KeyCode::Char('t') => Some(Action::ToggleTier),
            KeyCode::Char('T') => Some(Action::ToggleAllTiers),
            KeyCode::Char('d') if !ctrl => Some(Action::ToggleDevLoop),
            KeyCode::Char('?') => Some(Action::ShowHelp),
            KeyCode::Char('/') => Some(Action::OpenFilter),
            KeyCode::Char('e') => Some(Action::NextError),
            KeyCode::Char('E') => Some(Action::PrevError),
            KeyCode::Esc => Some(Action::Escape),
            KeyCode::PageUp => Some(Action::PageUp),
            KeyCode::PageDown | KeyCode::Char(' ') => Some(Action::PageDown),
            KeyCode::Char('u') if ctrl => Some(Action::PageUp),
            KeyCode::Char('d') if ctrl => Some(Action::PageDown),
            KeyCode::Home | KeyCode::Char('g') => Some(Action::Top),
            KeyCode::End | KeyCode::Char('G') | KeyCode::Char('f') => Some(Action::Follow),
            _ => None,
        },
    }
}

fn map_mouse(mouse: &MouseEvent, mode: Mode, log_area: Rect) -> Option<Action> {
    if mode != Mode::Normal || !log_area.contains(Position::new(mouse.column, mouse.row)) {
        return None;
    }
    match mouse.kind {
        MouseEventKind::ScrollUp => Some(Action::ScrollUp(WHEEL_LINES)),
        MouseEventKind::ScrollDown => Some(Action::ScrollDown(WHEEL_LINES)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> Event {
        Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn shifted(c: char) -> Event {
        Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT))
    }

    const PANE: Rect = Rect::new(0, 10, 80, 12);

    fn wheel(kind: MouseEventKind, column: u16, row: u16) -> Event {
        Event::Mouse(MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })
    }

    #[test]
    fn normal_keys_map_to_their_actions() {
        let cases = [
            (key(KeyCode::Up), Action::SelectPrev),
            (key(KeyCode::Char('k')), Action::SelectPrev),
            (key(KeyCode::Down), Action::SelectNext),
            (key(KeyCode::Char('j')), Action::SelectNext),
            (key(KeyCode::Enter), Action::ToggleFocus),
            (key(KeyCode::Char('r')), Action::Rebuild),
            (shifted('R'), Action::Restart),
            (key(KeyCode::Char('s')), Action::StopStart),
            (key(KeyCode::Char('c')), Action::ShowConnection),
            (key(KeyCode::Char('t')), Action::ToggleTier),
            (shifted('T'), Action::ToggleAllTiers),
            (key(KeyCode::Char('d')), Action::ToggleDevLoop),
            (key(KeyCode::Char('?')), Action::ShowHelp),
            (key(KeyCode::Char('/')), Action::OpenFilter),
            (key(KeyCode::Char('e')), Action::NextError),
            (shifted('E'), Action::PrevError),
            (key(KeyCode::Char('q')), Action::Quit),
            (key(KeyCode::End), Action::Follow),
            (key(KeyCode::PageUp), Action::PageUp),
        ];
        for (event, action) in cases {
            assert_eq!(map(&event, Mode::Normal, PANE), Some(action), "{event:?}");
        }
    }

    #[test]
    fn ctrl_d_pages_down_and_d_alone_shows_the_dev_loop() {
        let ctrl_d = Event::Key(KeyEvent::new(KeyCode::Char('d'), KeyModifiers::CONTROL));
        assert_eq!(map(&ctrl_d, Mode::Normal, PANE), Some(Action::PageDown));
        assert_eq!(
            map(&key(KeyCode::Char('d')), Mode::Normal, PANE),
            Some(Action::ToggleDevLoop)
        );
    }

    #[test]
    fn ctrl_c_quits_in_every_mode() {
        let ctrl_c = Event::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        for mode in [Mode::Normal, Mode::Prompt, Mode::Overlay] {
            assert_eq!(map(&ctrl_c, mode, PANE), Some(Action::Quit));
        }
    }

    #[test]
    fn the_filter_prompt_takes_every_character_as_text() {
        assert_eq!(
            map(&key(KeyCode::Char('q')), Mode::Prompt, PANE),
            Some(Action::PromptChar('q'))
        );
        assert_eq!(
            map(&shifted('R'), Mode::Prompt, PANE),
            Some(Action::PromptChar('R'))
        );
        assert_eq!(
            map(&key(KeyCode::Enter), Mode::Prompt, PANE),
            Some(Action::PromptSubmit)
        );
        assert_eq!(
            map(&key(KeyCode::Esc), Mode::Prompt, PANE),
            Some(Action::PromptCancel)
        );
        assert_eq!(
            map(&key(KeyCode::Backspace), Mode::Prompt, PANE),
            Some(Action::PromptBackspace)
        );
    }

    #[test]
    fn an_overlay_closes_on_q_and_esc_without_quitting() {
        for code in [KeyCode::Char('q'), KeyCode::Esc, KeyCode::Enter] {
            assert_eq!(
                map(&key(code), Mode::Overlay, PANE),
                Some(Action::CloseOverlay)
            );
        }
        assert_eq!(map(&key(KeyCode::Char('R')), Mode::Overlay, PANE), None);
    }

    #[test]
    fn key_releases_are_ignored() {
        let mut release = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(map(&Event::Key(release), Mode::Normal, PANE), None);
    }

    #[test]
    fn the_wheel_scrolls_only_over_the_log_pane() {
        assert_eq!(
            map(&wheel(MouseEventKind::ScrollUp, 5, 12), Mode::Normal, PANE),
            Some(Action::ScrollUp(WHEEL_LINES))
        );
        assert_eq!(
            map(
                &wheel(MouseEventKind::ScrollDown, 79, 21),
                Mode::Normal,
                PANE
            ),
            Some(Action::ScrollDown(WHEEL_LINES))
        );
        assert_eq!(
            map(&wheel(MouseEventKind::ScrollUp, 5, 3), Mode::Normal, PANE),
            None
        );
        assert_eq!(
            map(&wheel(MouseEventKind::ScrollUp, 5, 12), Mode::Overlay, PANE),
            None
        );
    }
}
