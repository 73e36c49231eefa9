//! An ECG as DICOM keeps it (DOMAIN.md §8: "ECGs are DICOM 12-lead waveforms in the
//! same store"; PS3.3 C.10.9 Waveform): the channels' samples interleaved in
//! WaveformData, each channel with its lead, sensitivity and baseline. Decoding them
//! and reducing a lead to what a screen can draw are pure functions here; the web
//! layer asks the PACS for the bytes and draws the leads on ECG paper.

/// Most channels read from one multiplex group (a 12-lead ECG has 12, some carts 15).
pub const CHANNELS_MAX: usize = 16;
/// Most samples per channel read (60 s at 1000 Hz).
pub const SAMPLES_MAX: usize = 60_000;

/// One channel's definition (Channel Definition Sequence, 003A,0200).
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelDef {
    /// The lead as its source code's meaning says it (`Lead I`, `Lead aVR`, `Lead V1` …).
    pub label: String,
    /// Channel Sensitivity (003A,0210) times its correction factor (003A,0212): the
    /// physical value of one unit of a sample, in `units`.
    pub sensitivity: f64,
    /// Channel Baseline (003A,0213), in `units`.
    pub baseline: f64,
    /// The sensitivity's unit as its code value says (`uV`, `mV`).
    pub units: String,
}

/// A multiplex group as its attributes describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub channels: Vec<ChannelDef>,
    pub samples: usize,
    pub sampling_hz: f64,
    /// Waveform Bits Allocated (5400,1004): 8 or 16.
    pub bits: u16,
    /// Waveform Sample Interpretation (5400,1006): `SS`, `US`, `SB` or `UB`.
    pub interpretation: String,
}

/// A lead's samples in microvolts.
#[derive(Debug, Clone, PartialEq)]
pub struct Lead {
    pub label: String,
    pub microvolts: Vec<f64>,
}

/// Why a waveform is not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaveformProblem {
    /// No channel, or more than [`CHANNELS_MAX`]; no sample, or more than [`SAMPLES_MAX`].
    Size,
    /// A sampling frequency that is not a positive number.
    Frequency,
    /// Bits allocated and interpretation that do not go together (or are not known).
    Encoding,
    /// WaveformData holds fewer bytes than the channels and samples need.
    Short,
    /// A sensitivity's unit that is not a voltage.
    Unit,
}

/// Microvolts in one of a unit.
fn microvolts_per(unit: &str) -> Option<f64> {
    match unit {
        "uV" | "µV" => Some(1.0),
        "mV" => Some(1_000.0),
        "V" => Some(1_000_000.0),
        _ => None,
    }
}

/// The group's leads from its WaveformData bytes (little endian, channels interleaved
/// sample by sample).
pub fn decode(group: &Group, data: &[u8]) -> Result<Vec<Lead>, WaveformProblem> {
    let channels = group.channels.len();
    if channels == 0 || channels > CHANNELS_MAX || group.samples == 0 || group.samples > SAMPLES_MAX
    {
        return Err(WaveformProblem::Size);
    }
    if !(group.sampling_hz.is_finite() && group.sampling_hz > 0.0) {
        return Err(WaveformProblem::Frequency);
    }
    let width = match (group.bits, group.interpretation.as_str()) {
        (16, "SS" | "US") => 2,
        (8, "SB" | "UB") => 1,
        _ => return Err(WaveformProblem::Encoding),
    };
    if data.len() < channels * group.samples * width {
        return Err(WaveformProblem::Short);
    }
    let scale: Vec<f64> = group
        .channels
        .iter()
        .map(|c| microvolts_per(&c.units).ok_or(WaveformProblem::Unit))
        .collect::<Result<_, _>>()?;
    let sample = |i: usize| -> f64 {
        match group.interpretation.as_str() {
            "SS" => f64::from(i16::from_le_bytes([data[i * 2], data[i * 2 + 1]])),
            "US" => f64::from(u16::from_le_bytes([data[i * 2], data[i * 2 + 1]])),
            "SB" => f64::from(data[i] as i8),
            _ => f64::from(data[i]),
        }
    };
    Ok(group
        .channels
        .iter()
        .enumerate()
        .map(|(c, def)| Lead {
            label: def.label.clone(),
            microvolts: (0..group.samples)
                .map(|s| (sample(s * channels + c) * def.sensitivity + def.baseline) * scale[c])
                .collect(),
        })
        .collect())
}

/// A lead reduced to `columns` columns for drawing: each column's lowest and highest
/// value, in the order they came, so that no spike is lost however narrow the screen.
pub fn columns(values: &[f64], columns: usize) -> Vec<(usize, f64)> {
    if values.is_empty() || columns == 0 {
        return Vec::new();
    }
    if values.len() <= columns * 2 {
        return values.iter().copied().enumerate().collect();
    }
    let mut out = Vec::with_capacity(columns * 2);
    for col in 0..columns {
        let start = col * values.len() / columns;
        let end = ((col + 1) * values.len() / columns).max(start + 1);
        let slice = &values[start..end];
        let (mut lo, mut hi) = (start, start);
        for (i, v) in slice.iter().enumerate() {
            if *v < values[lo] {
                lo = start + i;
            }
            if *v > values[hi] {
                hi = start + i;
            }
        }
        let (a, b) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        out.push((a, values[a]));
        if b != a {
            out.push((b, values[b]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(channels: &[(&str, f64, f64, &str)], samples: usize, bits: u16, kind: &str) -> Group {
        Group {
            channels: channels
                .iter()
                .map(|(label, sensitivity, baseline, units)| ChannelDef {
                    label: (*label).into(),
                    sensitivity: *sensitivity,
                    baseline: *baseline,
                    units: (*units).into(),
                })
                .collect(),
            samples,
            sampling_hz: 500.0,
            bits,
            interpretation: kind.into(),
        }
    }

    /// PS3.3 C.10.9.1.4: interleaved samples, sensitivity and baseline in the units of
    /// the channel's sensitivity units sequence.
    #[test]
    fn samples_are_read_per_channel_in_microvolts() {
        // two channels, three samples: I = 1, -2, 3 units; II = 100, 0, -100 units
        let words: [i16; 6] = [1, 100, -2, 0, 3, -100];
        let data: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let g = group(
            &[("Lead I", 2.5, 0.0, "uV"), ("Lead II", 0.005, 0.1, "mV")],
            3,
            16,
            "SS",
        );
        let leads = decode(&g, &data).unwrap();
        assert_eq!(leads[0].label, "Lead I");
        assert_eq!(leads[0].microvolts, [2.5, -5.0, 7.5]);
        let ii: Vec<i64> = leads[1]
            .microvolts
            .iter()
            .map(|v| v.round() as i64)
            .collect();
        assert_eq!(ii, [600, 100, -400]);
    }

    #[test]
    fn what_is_not_read() {
        let ok = &[("Lead I", 1.0, 0.0, "uV")];
        let cases: &[(Group, usize, WaveformProblem)] = &[
            (group(&[], 3, 16, "SS"), 6, WaveformProblem::Size),
            (group(ok, 0, 16, "SS"), 6, WaveformProblem::Size),
            (
                group(ok, SAMPLES_MAX + 1, 16, "SS"),
                6,
                WaveformProblem::Size,
            ),
            (group(ok, 3, 16, "SB"), 6, WaveformProblem::Encoding),
            (group(ok, 3, 12, "SS"), 6, WaveformProblem::Encoding),
            (group(ok, 3, 16, "SS"), 5, WaveformProblem::Short),
            (
                group(&[("Lead I", 1.0, 0.0, "mmHg")], 3, 16, "SS"),
                6,
                WaveformProblem::Unit,
            ),
            (
                Group {
                    sampling_hz: 0.0,
                    ..group(ok, 3, 16, "SS")
                },
                6,
                WaveformProblem::Frequency,
            ),
        ];
        for (g, bytes, want) in cases {
            assert_eq!(decode(g, &vec![0; *bytes]), Err(want.clone()), "{g:?}");
        }
        let bytes = decode(&group(ok, 2, 8, "SB"), &[0xff, 0x02]).unwrap();
        assert_eq!(bytes[0].microvolts, [-1.0, 2.0]);
    }

    #[test]
    fn a_narrow_screen_keeps_every_spike() {
        let mut values = vec![0.0; 1_000];
        values[501] = 1_500.0;
        values[737] = -900.0;
        let drawn = columns(&values, 10);
        assert!(drawn.len() <= 20);
        assert!(drawn.contains(&(501, 1_500.0)) && drawn.contains(&(737, -900.0)));
        assert!(drawn.windows(2).all(|w| w[0].0 < w[1].0), "in order");
        assert_eq!(columns(&[1.0, 2.0], 10), [(0, 1.0), (1, 2.0)]);
        assert!(columns(&[], 10).is_empty());
    }
}
