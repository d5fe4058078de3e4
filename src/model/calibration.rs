//! Platt scaling: maps a linear model's decision value `z` to a calibrated
//! probability `sigmoid(a * z + b)`, fitted on held-out (out-of-fold)
//! decision values so that "0.8" means about 8 in 10 comments like this
//! carry the label.

use serde::{Deserialize, Serialize};

/// Parameters of a Platt calibration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Platt {
    /// Slope applied to the decision value.
    pub a: f32,
    /// Offset.
    pub b: f32,
}

impl Default for Platt {
    /// The identity calibration: `sigmoid(z)`.
    fn default() -> Self {
        Self { a: 1.0, b: 0.0 }
    }
}

impl Platt {
    /// The calibrated probability of decision value `z`.
    #[inline]
    pub fn probability(&self, z: f32) -> f32 {
        super::logistic::sigmoid(self.a * z + self.b)
    }

    /// Fits `a`, `b` by Newton's method on the log loss, with Platt's (1999)
    /// smoothed targets. Returns the identity calibration when `y` holds only
    /// one class.
    pub fn fit(z: &[f32], y: &[bool]) -> Platt {
        let n_pos = y.iter().filter(|&&v| v).count() as f64;
        let n_neg = y.len() as f64 - n_pos;
        if n_pos == 0.0 || n_neg == 0.0 {
            return Platt::default();
        }
        let hi = (n_pos + 1.0) / (n_pos + 2.0);
        let lo = 1.0 / (n_neg + 2.0);
        let (mut a, mut b) = (1.0f64, 0.0f64);
        let loss = |a: f64, b: f64| -> f64 {
            z.iter()
                .zip(y)
                .map(|(&zi, &yi)| {
                    let t = if yi { hi } else { lo };
                    let f = a * f64::from(zi) + b;
                    // log(1 + e^f) - t f, computed stably
                    let softplus = if f > 0.0 {
                        f + (-f).exp().ln_1p()
                    } else {
                        f.exp().ln_1p()
                    };
                    softplus - t * f
                })
                .sum()
        };
        let mut current = loss(a, b);
        for _ in 0..100 {
            let (mut g_a, mut g_b, mut h_aa, mut h_ab, mut h_bb) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for (&zi, &yi) in z.iter().zip(y) {
                let t = if yi { hi } else { lo };
                let zi = f64::from(zi);
                let p = 1.0 / (1.0 + (-(a * zi + b)).exp());
                let d = p - t;
                let w = (p * (1.0 - p)).max(1e-12);
                g_a += d * zi;
                g_b += d;
                h_aa += w * zi * zi;
                h_ab += w * zi;
                h_bb += w;
            }
            let det = h_aa * h_bb - h_ab * h_ab;
            if det.abs() < 1e-18 {
                break;
            }
            let step_a = (h_bb * g_a - h_ab * g_b) / det;
            let step_b = (h_aa * g_b - h_ab * g_a) / det;
            let mut scale = 1.0;
            let mut improved = false;
            while scale > 1e-6 {
                let (na, nb) = (a - scale * step_a, b - scale * step_b);
                let l = loss(na, nb);
                if l <= current {
                    a = na;
                    b = nb;
                    improved = current - l > 1e-10 * current.abs().max(1.0);
                    current = l;
                    break;
                }
                scale /= 2.0;
            }
            if !improved {
                break;
            }
        }
        Platt {
            a: a as f32,
            b: b as f32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_known_calibration() {
        // Decision values whose true probability is sigmoid(2 z - 1).
        let mut z = Vec::new();
        let mut y = Vec::new();
        let mut state = 12345u64;
        for i in 0..20_000 {
            let zi = (i % 200) as f32 / 40.0 - 2.5;
            let p = 1.0 / (1.0 + (-(2.0 * zi - 1.0)).exp());
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (state >> 11) as f32 / (1u64 << 53) as f32;
            z.push(zi);
            y.push(u < p);
        }
        let platt = Platt::fit(&z, &y);
        assert!((platt.a - 2.0).abs() < 0.1, "{platt:?}");
        assert!((platt.b + 1.0).abs() < 0.1, "{platt:?}");
    }

    #[test]
    fn one_class_gives_identity() {
        assert_eq!(Platt::fit(&[0.1, 0.2], &[true, true]), Platt::default());
    }
}
