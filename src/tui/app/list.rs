//! The services list's state: services grouped by tier, tiers folded into one summary row, and
//! the cursor, which rests on a service or on a folded tier. Part of [`App`]; pure.
//!
//! A tier is folded when the user folded it (`t`, `T`), or — when the user said nothing about it
//! — when the whole list does not fit the panel and every service in it is ready or completed:
//! healthy tiers make room, a tier with trouble stays open. The cursor is kept as a service index
//! (on a folded tier: one of its services), so folding and unfolding never lose it.

use super::{App, LogSource, ServiceRow};

/// The services of one tier (contiguous in the display order), and whether it is folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// `None`: the services without a tier.
    pub tier: Option<String>,
    /// Index of its first service in [`App::services`].
    pub first: usize,
    pub len: usize,
    /// How many of its services are ready or completed.
    pub good: usize,
    pub folded: bool,
}

impl Group {
    pub fn contains(&self, service: usize) -> bool {
        (self.first..self.first + self.len).contains(&service)
    }
}

/// One row of the services list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// An unfolded tier's heading (index into [`App::groups`]).
    Heading(usize),
    /// A folded tier's summary row (index into [`App::groups`]).
    Folded(usize),
    /// A service (index into [`App::services`]).
    Service(usize),
}

impl App {
    /// The tiers in display order with their services; one untitled group when no service has a
    /// tier.
    pub fn groups(&self) -> Vec<Group> {
        let mut groups: Vec<Group> = Vec::new();
        for (i, s) in self.services.iter().enumerate() {
            let good = usize::from(s.status.phase.is_good());
            match groups.last_mut() {
                Some(g) if g.tier == s.status.tier => {
                    g.len += 1;
                    g.good += good;
                }
                _ => groups.push(Group {
                    tier: s.status.tier.clone(),
                    first: i,
                    len: 1,
                    good,
                    folded: false,
                }),
            }
        }
        if !self.has_tiers() {
            return groups;
        }
        let unfolded_rows = self.services.len() + groups.len();
        let crowded = unfolded_rows > self.list_rows;
        for g in &mut groups {
            g.folded = match self.folds.get(&g.tier) {
                Some(&folded) => folded,
                None => crowded && g.good == g.len,
            };
        }
        groups
    }

    /// The rows of the services list, top to bottom.
    pub fn entries(&self) -> Vec<Entry> {
        let tiered = self.has_tiers();
        let mut out = Vec::with_capacity(self.services.len() + 4);
        for (gi, g) in self.groups().iter().enumerate() {
            if g.folded {
                out.push(Entry::Folded(gi));
                continue;
            }
            if tiered {
                out.push(Entry::Heading(gi));
            }
            out.extend((g.first..g.first + g.len).map(Entry::Service));
        }
        out
    }

    /// The row the cursor is on: the selected service, or its tier's summary when folded.
    pub fn cursor(&self) -> Option<Entry> {
        if self.services.is_empty() {
            return None;
        }
        let groups = self.groups();
        match groups.iter().position(|g| g.contains(self.selected)) {
            Some(gi) if groups[gi].folded => Some(Entry::Folded(gi)),
            _ => Some(Entry::Service(self.selected)),
        }
    }

    /// The selected service, unless the cursor is on a folded tier.
    pub fn selected(&self) -> Option<&ServiceRow> {
        match self.cursor()? {
            Entry::Service(i) => self.services.get(i),
            Entry::Heading(_) | Entry::Folded(_) => None,
        }
    }

    /// The folded tier the cursor is on, if it is on one.
    pub fn selected_group(&self) -> Option<Group> {
        match self.cursor()? {
            Entry::Folded(gi) => self.groups().into_iter().nth(gi),
            Entry::Heading(_) | Entry::Service(_) => None,
        }
    }

    /// Rows the services panel can give the list; past this, healthy tiers fold by themselves.
    pub fn set_list_rows(&mut self, rows: usize) {
        if self.list_rows != rows {
            self.list_rows = rows;
            self.dirty = true;
        }
    }

    /// Move the cursor one selectable row (a service or a folded tier) up or down.
    pub(super) fn move_cursor(&mut self, down: bool) {
        let groups = self.groups();
        // Each selectable row as the service the cursor keeps for it.
        let stops: Vec<usize> = self
            .entries()
            .into_iter()
            .filter_map(|e| match e {
                Entry::Service(i) => Some(i),
                Entry::Folded(gi) => groups.get(gi).map(|g| g.first),
                Entry::Heading(_) => None,
            })
            .collect();
        let here = stops.iter().position(|&i| {
            i == self.selected
                || groups
                    .iter()
                    .any(|g| g.folded && g.contains(i) && g.contains(self.selected))
        });
        let Some(here) = here else {
            return;
        };
        let next = if down {
            (here + 1).min(stops.len().saturating_sub(1))
        } else {
            here.saturating_sub(1)
        };
        if let Some(&service) = stops.get(next) {
            self.select(service);
        }
    }

    pub(super) fn select(&mut self, index: usize) {
        if self.services.is_empty() {
            return;
        }
        self.selected = index.min(self.services.len() - 1);
        if let LogSource::Service(_) = self.view.source
            && let Some(id) = self.selected().map(|s| s.id)
        {
            self.set_source(LogSource::Service(id));
        }
        self.dirty = true;
    }

    /// Fold the selected service's tier, or unfold the folded tier the cursor is on. The cursor
    /// stays with the same service (on the summary row while folded).
    pub(super) fn toggle_tier(&mut self) -> Result<(), &'static str> {
        if !self.has_tiers() {
            return Err("the stack names no tiers");
        }
        let groups = self.groups();
        let Some(group) = groups.iter().find(|g| g.contains(self.selected)) else {
            return Ok(());
        };
        self.folds.insert(group.tier.clone(), !group.folded);
        self.dirty = true;
        Ok(())
    }

    /// Fold every tier, or unfold them all when all are folded.
    pub(super) fn toggle_all_tiers(&mut self) -> Result<(), &'static str> {
        if !self.has_tiers() {
            return Err("the stack names no tiers");
        }
        let groups = self.groups();
        let fold = groups.iter().any(|g| !g.folded);
        for g in groups {
            self.folds.insert(g.tier, fold);
        }
        self.dirty = true;
        Ok(())
    }
}
