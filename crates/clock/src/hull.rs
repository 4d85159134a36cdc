//! The skew of a series from its lower hull (`lowerHullSlope` in `ui/shared/clock.js`).

/// The slope of the line under every point that minimises the summed distance to them (Moon,
/// Skelly & Towsley's skew estimator): the lower hull's edge above the mean x. `points` are
/// `(x, y)` sorted by x. `None` with fewer than two points or a vertical edge.
///
/// Operation for operation the JavaScript, so the two round alike.
pub(crate) fn lower_hull_slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len();
    if n < 2 {
        return None;
    }
    let x0 = points[0].0;
    let pts: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (x - x0, y)).collect();
    let mut hull: Vec<(f64, f64)> = Vec::with_capacity(n);
    for &p in &pts {
        while hull.len() >= 2 {
            let a = hull[hull.len() - 2];
            let b = hull[hull.len() - 1];
            // Keep only left turns (convex from below).
            if (b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0) <= 0.0 {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push(p);
    }
    if hull.len() < 2 {
        return None;
    }
    let mut mean = 0.0;
    for p in &pts {
        mean += p.0;
    }
    mean /= n as f64;
    for i in 0..hull.len() - 1 {
        let (a, b) = (hull[i], hull[i + 1]);
        if b.0 >= mean || i + 2 == hull.len() {
            if b.0 == a.0 {
                return None;
            }
            return Some((b.1 - a.1) / (b.0 - a.0));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points on a line give that line's slope; points over a line with positive noise give the
    /// line under them.
    #[test]
    fn slope_of_the_floor() {
        let line: Vec<(f64, f64)> = (0..10).map(|i| (f64::from(i), 3.0 + 0.5 * f64::from(i))).collect();
        assert_eq!(lower_hull_slope(&line), Some(0.5), "expected the line's slope");
        let noisy: Vec<(f64, f64)> =
            (0..10).map(|i| (f64::from(i), 0.25 * f64::from(i) + if i % 3 == 0 { 0.0 } else { 2.0 })).collect();
        assert_eq!(lower_hull_slope(&noisy), Some(0.25), "expected the floor's slope under the noise");
        assert_eq!(lower_hull_slope(&line[..1]), None, "expected no slope from one point");
    }
}
