//! SplitMix64's finaliser (Steele, Lea and Flood, "Fast splittable pseudorandom number
//! generators", 2014): every step — a shift folded in, an odd multiplier — can be
//! undone, so distinct inputs give distinct, well-spread outputs. The demo's generator
//! (`app::demo::DemoRng`) and the request ids (`web::request_id`) are built on it.

/// `z` mixed; a bijection of `u64`.
pub fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::splitmix64;

    #[test]
    fn the_mix_spreads_and_keeps_inputs_apart() {
        // The generator's first output for seed 0 (state advanced by the golden gamma).
        assert_eq!(splitmix64(0x9E37_79B9_7F4A_7C15), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(0), 0);
        let outputs: std::collections::HashSet<u64> = (0..10_000).map(splitmix64).collect();
        assert_eq!(outputs.len(), 10_000);
    }
}
