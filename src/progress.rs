//! Operator feedback: indicatif progress bars on a terminal, nothing drawn otherwise (then the
//! stages' tracing lines are the progress report).

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone)]
pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    /// Bars only when `enabled` (stderr is a terminal and logs are not JSON).
    pub fn new(enabled: bool) -> Progress {
        Progress {
            multi: enabled.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    pub fn hidden() -> Progress {
        Progress { multi: None }
    }

    pub fn is_drawn(&self) -> bool {
        self.multi.is_some()
    }

    /// A byte-counting bar for one step (`total` = 0 when unknown).
    pub fn bytes(&self, label: &str, total: u64) -> ProgressBar {
        let Some(m) = &self.multi else {
            return ProgressBar::hidden();
        };
        let pb = m.add(ProgressBar::new(total));
        let style = ProgressStyle::with_template(
            "{prefix:>14} [{bar:30}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        pb.set_style(style);
        pb.set_prefix(label.to_string());
        pb
    }

    /// A spinner for a step without a known size.
    pub fn spinner(&self, label: &str) -> ProgressBar {
        let Some(m) = &self.multi else {
            return ProgressBar::hidden();
        };
        let pb = m.add(ProgressBar::new_spinner());
        let style = ProgressStyle::with_template("{prefix:>14} {spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        pb.set_style(style);
        pb.set_prefix(label.to_string());
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        pb
    }
}
