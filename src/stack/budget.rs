//! The byte budget of one load: what alias expansion, interpolation and env files may produce.
//!
//! A 130 KB file can ask for gigabytes (one big anchored scalar aliased thousands of times, or a
//! large variable substituted everywhere). Every stage that makes text out of other text spends
//! from one budget per load *before* it allocates, so such a file fails fast with a position
//! instead of taking the machine's memory.

/// The default budget: far above any real stack (Nova's resolves to well under 1 MiB).
pub const MAX_BYTES: usize = 64 << 20;

/// Bytes left to produce. Once a request does not fit, the budget stays exhausted.
#[derive(Debug, Clone)]
pub struct Budget {
    limit: usize,
    used: usize,
    exhausted: bool,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget::new(MAX_BYTES)
    }
}

impl Budget {
    pub fn new(limit: usize) -> Budget {
        Budget {
            limit,
            used: 0,
            exhausted: false,
        }
    }

    pub fn remaining(&self) -> usize {
        if self.exhausted {
            0
        } else {
            self.limit - self.used
        }
    }

    /// Takes `bytes` from the budget; `false` (and exhausted from then on) when they do not fit.
    pub fn spend(&mut self, bytes: usize) -> bool {
        if bytes > self.remaining() {
            self.exhausted = true;
            return false;
        }
        self.used += bytes;
        true
    }

    pub fn is_exhausted(&self) -> bool {
        self.exhausted
    }

    /// Marks the budget as used up (a stage found out on its own that it would not fit).
    pub fn exhaust(&mut self) {
        self.exhausted = true;
    }

    /// The error text for a stack that does not fit.
    pub fn message(&self) -> String {
        format!(
            "the stack is too large: it expands to more than {} after aliases and variables \
             (an alias or variable repeated too often?)",
            human(self.limit)
        )
    }
}

fn human(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spending_past_the_limit_exhausts_the_budget_for_good() {
        let mut b = Budget::new(10);
        assert!(b.spend(6));
        assert_eq!(b.remaining(), 4);
        assert!(!b.spend(5));
        assert!(b.is_exhausted());
        assert_eq!(b.remaining(), 0);
        assert!(!b.spend(1));
        assert!(b.spend(0));
    }

    #[test]
    fn message_names_the_limit() {
        assert!(Budget::default().message().contains("64 MiB"));
        assert!(Budget::new(100).message().contains("100 bytes"));
    }
}
