//! Drawing one backend of a model by its configured weight, in time that
//! does not grow with the number of backends (a binary search over the
//! weights' running sums). Dispatch draws a few times and keeps the first
//! backend that may take the request, and only scans every backend when
//! no draw gives one: with 500 backends the scan was most of a request.
//!
//! Why the result is the strategy's own: a draw weighted by `w` and kept
//! only when the backend is eligible (and, for `weighted_random`, with
//! probability its quota share `s`) picks an eligible backend with
//! probability proportional to `w * s`, which is what
//! [`super::strategies::weighted_random`] gives over the eligible ones.

/// The running sums of a model's backend weights; `None` when the
/// strategy does not choose by weight alone.
#[derive(Debug)]
pub struct Draws {
    /// `sums[i]` = weights of backends `0..=i`.
    sums: Vec<f64>,
}

impl Draws {
    /// Draws over `weights`; none when they add up to nothing (the scan
    /// then decides, as it always did).
    pub fn new(weights: impl Iterator<Item = f64>) -> Option<Self> {
        let mut total = 0.0;
        let sums: Vec<f64> = weights
            .map(|w| {
                total += w.max(0.0);
                total
            })
            .collect();
        (total > 0.0 && total.is_finite()).then_some(Draws { sums })
    }

    /// One backend index, each with probability weight / total.
    pub fn draw(&self, rng: &mut fastrand::Rng) -> usize {
        let total = self.sums.last().copied().unwrap_or(0.0);
        let point = rng.f64() * total;
        // The first backend whose running sum passes the point: a
        // zero-weight backend's sum equals the one before it, so it is
        // never the first to pass.
        let i = self.sums.partition_point(|&s| s <= point);
        i.min(self.sums.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_follow_the_weights_and_skip_zero_weights() {
        let draws = Draws::new([1.0, 0.0, 3.0, 6.0].into_iter()).unwrap();
        let mut rng = fastrand::Rng::with_seed(7);
        let mut counts = [0u32; 4];
        let n = 100_000;
        for _ in 0..n {
            counts[draws.draw(&mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        for (i, want) in [(0, 0.1), (2, 0.3), (3, 0.6)] {
            let got = f64::from(counts[i]) / f64::from(n);
            assert!((got - want).abs() < 0.01, "backend {i}: {got} vs {want}");
        }
    }

    #[test]
    fn no_draws_without_weight() {
        assert!(Draws::new([0.0, 0.0].into_iter()).is_none());
        assert!(Draws::new(std::iter::empty()).is_none());
    }
}
