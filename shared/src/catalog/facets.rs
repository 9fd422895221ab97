//! Search facets: counts per category and vendor, and price ranges that split the hits evenly at
//! round prices (`€10–€15`, `€15–€25`, `€25 and up`).
//!
//! Price ranges are cut from a fixed ladder of round amounts, so the database does the counting in
//! one indexed pass (`width_bucket(price_min_minor, $ladder::bigint[])`, grouped) and only the merge
//! of neighbouring steps into a few balanced ranges happens here.

use serde::{Deserialize, Serialize};

/// How many price ranges a search shows by default: enough to choose, few enough to scan.
pub const DEFAULT_PRICE_BUCKETS: usize = 5;

/// Round steps within each power of ten: 10, 15, 20, 25, 30, 40, 50, 75 (the amounts price
/// filters on large shops use), times 10^1..10^6 minor units, then 10^8 (`MAX_PRICE_MINOR`).
const MANTISSAS: [i64; 8] = [10, 15, 20, 25, 30, 40, 50, 75];
const DECADES: usize = 6;

/// Ascending boundaries in minor units, from 100 (€1) to 100,000,000 (€1,000,000).
pub const PRICE_LADDER_MINOR: [i64; MANTISSAS.len() * DECADES + 1] = price_ladder();

const fn price_ladder() -> [i64; MANTISSAS.len() * DECADES + 1] {
    let mut ladder = [0; MANTISSAS.len() * DECADES + 1];
    let mut decade = 0;
    let mut scale = 10;
    while decade < DECADES {
        let mut i = 0;
        while i < MANTISSAS.len() {
            ladder[decade * MANTISSAS.len() + i] = MANTISSAS[i] * scale;
            i += 1;
        }
        scale *= 10;
        decade += 1;
    }
    ladder[MANTISSAS.len() * DECADES] = scale * 10;
    ladder
}

/// Steps of the ladder: below the first boundary, between each pair, at or above the last.
pub const PRICE_STEPS: usize = PRICE_LADDER_MINOR.len() + 1;

/// The ladder step a price falls in: what Postgres' `width_bucket(price, ladder)` answers
/// (0 below the first boundary, `i` for `ladder[i-1] <= price < ladder[i]`).
pub fn ladder_step(price_minor: i64) -> usize {
    PRICE_LADDER_MINOR.partition_point(|boundary| *boundary <= price_minor)
}

/// A price range: `min_minor <= price < max_minor` (no upper end when `max_minor` is `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceBucket {
    pub min_minor: i64,
    pub max_minor: Option<i64>,
    pub count: u64,
}

impl PriceBucket {
    pub fn contains(&self, price_minor: i64) -> bool {
        price_minor >= self.min_minor && self.max_minor.is_none_or(|max| price_minor < max)
    }

    /// The `price_min` / `price_max` filter (both inclusive) that selects exactly this range, so a
    /// click on a facet lists as many products as its count says.
    pub fn filter_bounds(&self) -> (i64, Option<i64>) {
        (self.min_minor, self.max_minor.map(|max| max - 1))
    }
}

/// Counts per value of a facet (category, vendor), largest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetCount<T> {
    pub value: T,
    pub count: u64,
}

/// Largest count first; ties in value order, so the answer is stable.
pub fn sort_facet_counts<T: Ord>(counts: &mut [FacetCount<T>]) {
    counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
}

/// Ranges for prices given one by one (natively, or in tests).
pub fn price_buckets(prices: impl IntoIterator<Item = i64>, max_buckets: usize) -> Vec<PriceBucket> {
    let mut steps = [0u64; PRICE_STEPS];
    for price in prices {
        steps[ladder_step(price)] += 1;
    }
    merge_steps(&steps, max_buckets)
}

/// Ranges from per-step counts as the database returns them (`(width_bucket, count)` rows); steps
/// outside the ladder are ignored.
pub fn price_buckets_from_steps(
    step_counts: impl IntoIterator<Item = (usize, u64)>,
    max_buckets: usize,
) -> Vec<PriceBucket> {
    let mut steps = [0u64; PRICE_STEPS];
    for (step, count) in step_counts {
        if let Some(slot) = steps.get_mut(step) {
            *slot += count;
        }
    }
    merge_steps(&steps, max_buckets)
}

/// Joins neighbouring steps into at most `max_buckets` ranges, each with at least one hit, making
/// the largest range as small as possible (a linear partition, exact by dynamic programming: at
/// most 50 steps and a handful of ranges). Empty steps at either end are dropped; empty steps
/// inside join the range after them.
fn merge_steps(steps: &[u64; PRICE_STEPS], max_buckets: usize) -> Vec<PriceBucket> {
    let (Some(first), Some(last)) = (steps.iter().position(|c| *c > 0), steps.iter().rposition(|c| *c > 0)) else {
        return Vec::new();
    };
    let counts = &steps[first..=last];
    let non_empty = counts.iter().filter(|c| **c > 0).count();
    let groups = max_buckets.clamp(1, non_empty);
    let n = counts.len();
    let prefix: Vec<u64> = std::iter::once(0)
        .chain(counts.iter().scan(0, |running, count| {
            *running += *count;
            Some(*running)
        }))
        .collect();
    let sum = |from: usize, to: usize| prefix[to] - prefix[from];

    // best[g][i]: smallest possible largest range when the first i steps form g non-empty ranges;
    // cut[g][i]: where the last of those ranges starts.
    let mut best = vec![vec![u64::MAX; n + 1]; groups + 1];
    let mut cut = vec![vec![0usize; n + 1]; groups + 1];
    best[0][0] = 0;
    for g in 1..=groups {
        for i in 1..=n {
            for start in (g - 1)..i {
                if best[g - 1][start] == u64::MAX || sum(start, i) == 0 {
                    continue;
                }
                let cost = best[g - 1][start].max(sum(start, i));
                if cost < best[g][i] {
                    best[g][i] = cost;
                    cut[g][i] = start;
                }
            }
        }
    }

    let mut ranges = Vec::with_capacity(groups);
    let mut end = n;
    for g in (1..=groups).rev() {
        let start = cut[g][end];
        ranges.push((first + start, first + end - 1, sum(start, end)));
        end = start;
    }
    ranges.reverse();
    ranges
        .into_iter()
        .map(|(low_step, high_step, count)| PriceBucket {
            min_minor: if low_step == 0 { 0 } else { PRICE_LADDER_MINOR[low_step - 1] },
            max_minor: PRICE_LADDER_MINOR.get(high_step).copied(),
            count,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_ladder_is_round_and_ascending() {
        assert_eq!(&PRICE_LADDER_MINOR[..9], &[100, 150, 200, 250, 300, 400, 500, 750, 1_000]);
        assert_eq!(PRICE_LADDER_MINOR.last(), Some(&super::super::money::MAX_PRICE_MINOR));
        assert!(PRICE_LADDER_MINOR.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn ladder_steps_match_postgres_width_bucket() {
        assert_eq!(ladder_step(0), 0);
        assert_eq!(ladder_step(99), 0);
        assert_eq!(ladder_step(100), 1);
        assert_eq!(ladder_step(149), 1);
        assert_eq!(ladder_step(150), 2);
        assert_eq!(ladder_step(i64::MAX), PRICE_LADDER_MINOR.len());
    }

    #[test]
    fn splits_a_spread_of_prices_evenly_at_round_amounts() {
        // 40 products from €8 to €120.
        let prices = (0..40).map(|i| 800 + i * 290);
        let buckets = price_buckets(prices, 4);
        assert_eq!(buckets.len(), 4);
        assert_eq!(buckets.iter().map(|b| b.count).sum::<u64>(), 40);
        assert_eq!(buckets[0].min_minor, 750);
        assert_eq!(buckets[3].max_minor, Some(15_000));
        assert!(buckets.iter().all(|b| b.count >= 6), "{buckets:?}");
    }

    #[test]
    fn few_distinct_prices_make_few_ranges() {
        assert_eq!(
            price_buckets([1_999, 1_999, 1_999], 5),
            [PriceBucket { min_minor: 1_500, max_minor: Some(2_000), count: 3 }]
        );
        assert!(price_buckets([], 5).is_empty());
        let top = price_buckets([200_000_000], 5);
        assert_eq!(top, [PriceBucket { min_minor: 100_000_000, max_minor: None, count: 1 }]);
    }

    #[test]
    fn database_step_counts_give_the_same_ranges() {
        let prices = [350, 1_200, 1_250, 4_999, 5_000, 12_000, 12_500];
        let mut steps = std::collections::BTreeMap::new();
        for price in prices {
            *steps.entry(ladder_step(price)).or_insert(0) += 1;
        }
        assert_eq!(price_buckets_from_steps(steps.into_iter().chain([(999, 5)]), 3), price_buckets(prices, 3));
    }

    #[test]
    fn facet_counts_sort_largest_first_then_by_value() {
        let mut counts = vec![
            FacetCount { value: "b", count: 2 },
            FacetCount { value: "a", count: 2 },
            FacetCount { value: "c", count: 9 },
        ];
        sort_facet_counts(&mut counts);
        assert_eq!(counts.iter().map(|c| c.value).collect::<Vec<_>>(), ["c", "a", "b"]);
    }

    proptest! {
        #[test]
        fn buckets_partition_the_prices(prices in prop::collection::vec(0i64..200_000_000, 0..300), max in 1usize..8) {
            let buckets = price_buckets(prices.iter().copied(), max);
            prop_assert!(buckets.len() <= max);
            prop_assert_eq!(buckets.iter().map(|b| b.count).sum::<u64>(), prices.len() as u64);
            prop_assert!(buckets.iter().all(|b| b.count > 0));
            for pair in buckets.windows(2) {
                prop_assert_eq!(pair[0].max_minor, Some(pair[1].min_minor));
            }
            for price in &prices {
                let holding: Vec<_> = buckets.iter().filter(|b| b.contains(*price)).collect();
                prop_assert_eq!(holding.len(), 1);
                let (low, high) = holding[0].filter_bounds();
                prop_assert!(*price >= low && high.is_none_or(|high| *price <= high));
            }
            for bucket in &buckets {
                let counted = prices.iter().filter(|p| bucket.contains(**p)).count() as u64;
                prop_assert_eq!(counted, bucket.count);
            }
        }
    }
}
