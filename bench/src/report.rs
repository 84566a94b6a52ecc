//! The results table: one row per figure, with its reference beside it, printed as
//! text and written as Markdown.

use std::fmt::Write as _;

/// One figure and its reference, measured in the same run.
#[derive(Debug, Clone)]
pub struct Row {
    /// The section (`1 cold start`, ...).
    pub section: &'static str,
    /// What is measured.
    pub measure: String,
    /// Our figure.
    pub ours: String,
    /// The reference figure (a peer, a floor, a naive design, a published number).
    pub reference: String,
    /// The ratio or a short remark.
    pub note: String,
}

impl Row {
    /// A row.
    pub fn new(
        section: &'static str,
        measure: impl Into<String>,
        ours: impl Into<String>,
        reference: impl Into<String>,
        note: impl Into<String>,
    ) -> Self {
        Self {
            section,
            measure: measure.into(),
            ours: ours.into(),
            reference: reference.into(),
            note: note.into(),
        }
    }
}

/// `ours / reference` as `1.23x`, or `-` when either is not a positive number.
pub fn ratio(ours: f64, reference: f64) -> String {
    if ours.is_finite() && reference.is_finite() && reference > 0.0 {
        format!("{:.2}x", ours / reference)
    } else {
        "-".into()
    }
}

/// The rows as a Markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| section | measure | ours | reference | ratio / note |\n|---|---|---|---|---|\n",
    );
    for r in rows {
        let cell = |s: &str| s.replace('|', "\\|");
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            r.section,
            cell(&r.measure),
            cell(&r.ours),
            cell(&r.reference),
            cell(&r.note)
        );
    }
    out
}

/// The rows as an aligned text table for the terminal.
pub fn text(rows: &[Row]) -> String {
    let headers = ["section", "measure", "ours", "reference", "ratio / note"];
    let cells: Vec<[&str; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.section,
                r.measure.as_str(),
                r.ours.as_str(),
                r.reference.as_str(),
                r.note.as_str(),
            ]
        })
        .collect();
    let mut widths = headers.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |row: [&str; 5]| {
        let mut s = String::new();
        for (i, c) in row.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            let _ = write!(s, "{c}{}  ", " ".repeat(pad));
        }
        s.trim_end().to_string()
    };
    let mut out = line(headers) + "\n";
    out += &widths
        .iter()
        .map(|w| "-".repeat(*w))
        .collect::<Vec<_>>()
        .join("  ");
    out += "\n";
    for row in cells {
        out += &line(row);
        out += "\n";
    }
    out
}

/// Percentile `p` (0-100) of sorted `values` (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of `values`.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    percentile(&v, 50.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    }

    #[test]
    fn a_ratio_needs_a_positive_reference() {
        assert_eq!(ratio(3.0, 2.0), "1.50x");
        assert_eq!(ratio(3.0, 0.0), "-");
    }
}
