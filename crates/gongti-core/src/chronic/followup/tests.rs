//! Table-driven tests of DOMAIN.md §2's follow-up rules: each row names the rule and
//! the boundary it pins.

use super::*;

fn htn(age_years: u8, sbp: u16, dbp: u16) -> Findings {
    Findings {
        disease: Disease::Hypertension,
        age_years,
        method: Method::Clinic,
        bp: Some(Bp::new(sbp, dbp)),
        fpg: None,
        heart_rate_bpm: None,
        temperature: None,
        symptoms: Vec::new(),
        pregnant_or_breastfeeding: false,
        adverse_reaction: AdverseReaction::None,
        complication: Complication::None,
        previous: None,
        frequent_hypoglycaemia: false,
        glucose_lowering: false,
    }
}

fn dm(fpg_tenths: i32) -> Findings {
    Findings {
        disease: Disease::Diabetes,
        fpg: Some(Mmol::from_tenths(fpg_tenths)),
        ..htn(60, 128, 78)
    }
}

/// (classification, urgent_referral, refer, next_followup_within_days, reason codes)
type Expect = (Option<u8>, bool, bool, u16, &'static [&'static str]);

fn check(cases: Vec<(&str, Findings, Expect)>) {
    let params = Params::default();
    for (name, findings, (class, urgent, refer, next, codes)) in cases {
        let e = evaluate(&findings, &params);
        let got: Vec<&str> = e.reasons.iter().map(|r| r.code()).collect();
        assert_eq!(
            (
                e.classification.map(Classification::number),
                e.urgent_referral,
                e.refer,
                e.next_followup_within_days,
                got.as_slice()
            ),
            (class, urgent, refer, next, codes),
            "{name}"
        );
    }
}

#[test]
fn hypertension_classification_boundaries_by_age() {
    // DOMAIN.md §2 classification: HTN satisfactory is SBP < 140 and DBP < 90,
    // < 150/90 from age 65; both numbers must be under target.
    check(vec![
        (
            "139/89 at 64 is satisfactory",
            htn(64, 139, 89),
            (Some(1), false, false, 90, &["controlled"]),
        ),
        (
            "140/89 at 64 is unsatisfactory",
            htn(64, 140, 89),
            (Some(2), false, false, 14, &["bp_not_controlled"]),
        ),
        (
            "139/90 at 64 is unsatisfactory",
            htn(64, 139, 90),
            (Some(2), false, false, 14, &["bp_not_controlled"]),
        ),
        (
            "149/89 at 65 is satisfactory",
            htn(65, 149, 89),
            (Some(1), false, false, 90, &["controlled"]),
        ),
        (
            "150/89 at 65 is unsatisfactory",
            htn(65, 150, 89),
            (Some(2), false, false, 14, &["bp_not_controlled"]),
        ),
        (
            "149/90 at 65 is unsatisfactory",
            htn(65, 149, 90),
            (Some(2), false, false, 14, &["bp_not_controlled"]),
        ),
        (
            "145/85 at 64 is unsatisfactory",
            htn(64, 145, 85),
            (Some(2), false, false, 14, &["bp_not_controlled"]),
        ),
    ]);
}

#[test]
fn diabetes_classification_is_judged_on_fasting_glucose() {
    // DOMAIN.md §2 classification: DM satisfactory is FPG < 7.0 mmol/L.
    check(vec![
        (
            "FPG 6.9 is satisfactory",
            dm(69),
            (Some(1), false, false, 90, &["controlled"]),
        ),
        (
            "FPG 7.0 is unsatisfactory",
            dm(70),
            (Some(2), false, false, 14, &["fpg_not_controlled"]),
        ),
        (
            "FPG 6.9 with BP 150/95 is still satisfactory for the DM programme",
            Findings {
                bp: Some(Bp::new(150, 95)),
                ..dm(69)
            },
            (Some(1), false, false, 90, &["controlled"]),
        ),
    ]);
}

#[test]
fn urgent_referral_thresholds() {
    // DOMAIN.md §2 urgent referral: SBP ≥ 180 and/or DBP ≥ 110 (both programmes);
    // glucose ≥ 16.7 or ≤ 3.9; heart rate > 100; temperature > 39 °C (diabetes).
    check(vec![
        (
            "179/109 is not urgent",
            htn(50, 179, 109),
            (Some(2), false, false, 14, &["bp_not_controlled"]),
        ),
        (
            "180/100 is urgent",
            htn(50, 180, 100),
            (Some(2), true, true, 14, &["urgent_bp", "bp_not_controlled"]),
        ),
        (
            "170/110 is urgent",
            htn(50, 170, 110),
            (Some(2), true, true, 14, &["urgent_bp", "bp_not_controlled"]),
        ),
        (
            "diabetes with 180/100 is urgent",
            Findings {
                bp: Some(Bp::new(180, 100)),
                ..dm(60)
            },
            (Some(1), true, true, 14, &["urgent_bp", "controlled"]),
        ),
        (
            "FPG 16.6 is not urgent",
            dm(166),
            (Some(2), false, false, 14, &["fpg_not_controlled"]),
        ),
        (
            "FPG 16.7 is urgent",
            dm(167),
            (
                Some(2),
                true,
                true,
                14,
                &["urgent_glucose_high", "fpg_not_controlled"],
            ),
        ),
        (
            "FPG 4.0 is not urgent",
            dm(40),
            (Some(1), false, false, 90, &["controlled"]),
        ),
        (
            "FPG 3.9 is urgent, and never satisfactory",
            dm(39),
            (
                Some(2),
                true,
                true,
                14,
                &["urgent_glucose_low", "hypoglycaemia"],
            ),
        ),
        (
            "heart rate 100 is not urgent",
            Findings {
                heart_rate_bpm: Some(100),
                ..dm(60)
            },
            (Some(1), false, false, 90, &["controlled"]),
        ),
        (
            "heart rate 101 is urgent in diabetes",
            Findings {
                heart_rate_bpm: Some(101),
                ..dm(60)
            },
            (
                Some(1),
                true,
                true,
                14,
                &["urgent_heart_rate", "controlled"],
            ),
        ),
        (
            "heart rate 101 is not a hypertension sign",
            Findings {
                heart_rate_bpm: Some(101),
                ..htn(50, 130, 80)
            },
            (Some(1), false, false, 90, &["controlled"]),
        ),
        (
            "temperature 39.0 is not urgent",
            Findings {
                temperature: Some(Celsius::from_tenths(390)),
                ..dm(60)
            },
            (Some(1), false, false, 90, &["controlled"]),
        ),
        (
            "temperature 39.1 is urgent in diabetes",
            Findings {
                temperature: Some(Celsius::from_tenths(391)),
                ..dm(60)
            },
            (
                Some(1),
                true,
                true,
                14,
                &["urgent_temperature", "controlled"],
            ),
        ),
    ]);
}

#[test]
fn urgent_signs_belong_to_their_programme() {
    // DOMAIN.md §2 urgent referral: each programme's list of signs.
    let params = Params::default();
    for &s in Symptom::ALL {
        for disease in Disease::ALL {
            let base = match disease {
                Disease::Hypertension => htn(50, 130, 80),
                Disease::Diabetes => dm(60),
            };
            let e = evaluate(
                &Findings {
                    symptoms: vec![s],
                    ..base
                },
                &params,
            );
            assert_eq!(
                e.urgent_referral,
                s.is_urgent_for(disease),
                "{s:?} {disease:?}"
            );
            assert_eq!(e.refer, e.urgent_referral, "{s:?} {disease:?}");
        }
    }
    let urgent_htn: Vec<_> = Symptom::ALL
        .iter()
        .filter(|s| s.is_urgent_for(Disease::Hypertension))
        .map(|s| s.code())
        .collect();
    assert_eq!(
        urgent_htn,
        [
            "altered_consciousness",
            "severe_headache_dizziness",
            "nausea_vomiting",
            "blurred_vision",
            "eye_pain",
            "palpitations",
            "chest_tightness",
            "orthopnoea",
            "other_unmanageable"
        ]
    );
    let urgent_dm: Vec<_> = Symptom::ALL
        .iter()
        .filter(|s| s.is_urgent_for(Disease::Diabetes))
        .map(|s| s.code())
        .collect();
    assert_eq!(
        urgent_dm,
        [
            "altered_consciousness",
            "nausea_vomiting",
            "palpitations",
            "acetone_breath",
            "sweating",
            "anorexia",
            "polydipsia_polyuria",
            "abdominal_pain",
            "deep_rapid_breathing",
            "flushed_skin",
            "sudden_vision_loss",
            "other_unmanageable"
        ]
    );
}

#[test]
fn pregnancy_is_urgent_only_with_raised_values() {
    // DOMAIN.md §2: pregnancy or breastfeeding with raised BP (HTN) / glucose (DM).
    check(vec![
        (
            "pregnant with 139/89",
            Findings {
                pregnant_or_breastfeeding: true,
                ..htn(36, 139, 89)
            },
            (Some(1), false, false, 90, &["controlled"]),
        ),
        (
            "pregnant with 140/85",
            Findings {
                pregnant_or_breastfeeding: true,
                ..htn(36, 140, 85)
            },
            (
                Some(2),
                true,
                true,
                14,
                &["urgent_pregnancy", "bp_not_controlled"],
            ),
        ),
        (
            "breastfeeding with FPG 7.0",
            Findings {
                pregnant_or_breastfeeding: true,
                age_years: 36,
                ..dm(70)
            },
            (
                Some(2),
                true,
                true,
                14,
                &["urgent_pregnancy", "fpg_not_controlled"],
            ),
        ),
        (
            "breastfeeding with FPG 6.9",
            Findings {
                pregnant_or_breastfeeding: true,
                age_years: 36,
                ..dm(69)
            },
            (Some(1), false, false, 90, &["controlled"]),
        ),
    ]);
}

#[test]
fn the_most_severe_classification_wins() {
    // DOMAIN.md §2: record the most severe that applies, 1 < 2 < 3 < 4.
    check(vec![
        (
            "adverse reaction over controlled BP",
            Findings {
                adverse_reaction: AdverseReaction::Present,
                ..htn(50, 130, 80)
            },
            (Some(3), false, false, 14, &["adverse_reaction"]),
        ),
        (
            "adverse reaction over uncontrolled BP",
            Findings {
                adverse_reaction: AdverseReaction::Present,
                ..htn(50, 150, 80)
            },
            (
                Some(3),
                false,
                false,
                14,
                &["adverse_reaction", "bp_not_controlled"],
            ),
        ),
        (
            "new complication over adverse reaction",
            Findings {
                adverse_reaction: AdverseReaction::Present,
                complication: Complication::New,
                ..htn(50, 130, 80)
            },
            (Some(4), false, true, 14, &["complication"]),
        ),
        (
            "worse complication refers",
            Findings {
                complication: Complication::Worse,
                ..dm(80)
            },
            (
                Some(4),
                false,
                true,
                14,
                &["complication", "fpg_not_controlled"],
            ),
        ),
    ]);
}

#[test]
fn refer_after_two_unsatisfactory_in_a_row_or_uncontrolled_reactions() {
    // DOMAIN.md §2: unsatisfactory twice in a row, or adverse reactions that cannot
    // be controlled → refer, follow up within 2 weeks.
    check(vec![
        (
            "unsatisfactory after unsatisfactory refers",
            Findings {
                previous: Some(Classification::Unsatisfactory),
                ..htn(50, 150, 95)
            },
            (
                Some(2),
                false,
                true,
                14,
                &["bp_not_controlled", "unsatisfactory_twice"],
            ),
        ),
        (
            "unsatisfactory after satisfactory does not",
            Findings {
                previous: Some(Classification::Satisfactory),
                ..htn(50, 150, 95)
            },
            (Some(2), false, false, 14, &["bp_not_controlled"]),
        ),
        (
            "unsatisfactory after adverse reaction does not",
            Findings {
                previous: Some(Classification::AdverseReaction),
                ..dm(75)
            },
            (Some(2), false, false, 14, &["fpg_not_controlled"]),
        ),
        (
            "satisfactory after unsatisfactory does not",
            Findings {
                previous: Some(Classification::Unsatisfactory),
                ..htn(50, 130, 80)
            },
            (Some(1), false, false, 90, &["controlled"]),
        ),
        (
            "uncontrolled adverse reaction refers",
            Findings {
                adverse_reaction: AdverseReaction::Uncontrolled,
                ..htn(50, 130, 80)
            },
            (
                Some(3),
                false,
                true,
                14,
                &["adverse_reaction", "adverse_reaction_uncontrolled"],
            ),
        ),
    ]);
}

#[test]
fn phone_follow_ups_are_recorded_but_do_not_count() {
    // DOMAIN.md §2: phone follow-ups do not count towards the four face-to-face ones.
    let params = Params::default();
    let phone = Findings {
        method: Method::Phone,
        ..htn(50, 130, 80)
    };
    let e = evaluate(&phone, &params);
    assert!(!e.counts_as_face_to_face);
    assert_eq!(e.classification, Some(Classification::Satisfactory));
    for method in [Method::Clinic, Method::Home] {
        assert!(
            evaluate(
                &Findings {
                    method,
                    ..htn(50, 130, 80)
                },
                &params
            )
            .counts_as_face_to_face
        );
    }
    check(vec![
        (
            "phone with nothing measured after a satisfactory visit",
            Findings {
                method: Method::Phone,
                bp: None,
                previous: Some(Classification::Satisfactory),
                ..htn(50, 0, 0)
            },
            (
                None,
                false,
                false,
                90,
                &["not_measured", "phone_not_counted"],
            ),
        ),
        (
            "phone with nothing measured after an unsatisfactory visit",
            Findings {
                method: Method::Phone,
                bp: None,
                previous: Some(Classification::Unsatisfactory),
                ..htn(50, 0, 0)
            },
            (
                None,
                false,
                false,
                14,
                &["not_measured", "phone_not_counted"],
            ),
        ),
        (
            "phone reporting an urgent sign",
            Findings {
                method: Method::Phone,
                bp: None,
                symptoms: vec![Symptom::ChestTightness],
                ..htn(50, 0, 0)
            },
            (
                None,
                true,
                true,
                14,
                &["urgent_symptom", "not_measured", "phone_not_counted"],
            ),
        ),
    ]);
}

fn form(disease: &str, method: &str) -> FollowupForm {
    FollowupForm {
        disease: disease.into(),
        method: method.into(),
        age_years: Some(60),
        sbp_mmhg: Some(130),
        dbp_mmhg: Some(80),
        ..FollowupForm::default()
    }
}

fn problems(f: &FollowupForm) -> Vec<(&'static str, &'static str)> {
    match validate(f) {
        Ok(_) => Vec::new(),
        Err(ps) => ps.iter().map(|p| (p.field, p.problem.code())).collect(),
    }
}

#[test]
fn validation_lists_every_problem() {
    assert_eq!(problems(&form("hypertension", "clinic")), []);
    let bad = FollowupForm {
        sbp_mmhg: Some(20),
        dbp_mmhg: Some(400),
        heart_rate_bpm: Some(0),
        temperature_c: Some(50.0),
        symptoms: vec!["hiccups".into()],
        complication: Some("maybe".into()),
        previous_classification: Some(5),
        ..form("flu", "video")
    };
    assert_eq!(
        problems(&bad),
        [
            ("disease", "unknown_code"),
            ("method", "unknown_code"),
            ("sbp_mmhg", "out_of_range"),
            ("dbp_mmhg", "out_of_range"),
            ("heart_rate_bpm", "out_of_range"),
            ("temperature_c", "out_of_range"),
            ("symptoms", "unknown_code"),
            ("complication", "unknown_code"),
            ("previous_classification", "out_of_range"),
        ]
    );
    let above = FollowupForm {
        sbp_mmhg: Some(120),
        dbp_mmhg: Some(130),
        ..form("hypertension", "clinic")
    };
    assert_eq!(problems(&above), [("dbp_mmhg", "inconsistent")]);
    let equal = FollowupForm {
        dbp_mmhg: Some(130),
        ..form("hypertension", "clinic")
    };
    assert_eq!(problems(&equal), [("dbp_mmhg", "inconsistent")]);
}

#[test]
fn face_to_face_visits_must_measure_and_phone_ones_may_not() {
    // DOMAIN.md §2: each follow-up records BP (and fasting glucose for diabetes).
    let unmeasured = FollowupForm {
        sbp_mmhg: None,
        dbp_mmhg: None,
        ..form("diabetes", "home")
    };
    assert_eq!(
        problems(&unmeasured),
        [
            ("sbp_mmhg", "required"),
            ("dbp_mmhg", "required"),
            ("fpg_mmol", "required")
        ]
    );
    let phone = FollowupForm {
        method: "phone".into(),
        ..unmeasured.clone()
    };
    assert_eq!(problems(&phone), []);
    let half = FollowupForm {
        dbp_mmhg: None,
        ..form("hypertension", "phone")
    };
    assert_eq!(problems(&half), [("dbp_mmhg", "required")]);
    let fpg_range = FollowupForm {
        fpg_mmol: Some(0.4),
        ..form("diabetes", "clinic")
    };
    assert_eq!(problems(&fpg_range), [("fpg_mmol", "out_of_range")]);
    let nan = FollowupForm {
        fpg_mmol: Some(f64::NAN),
        ..form("diabetes", "clinic")
    };
    assert_eq!(problems(&nan), [("fpg_mmol", "out_of_range")]);
}

#[test]
fn an_uncontrolled_reaction_needs_a_reaction() {
    let f = FollowupForm {
        adverse_reaction_uncontrolled: true,
        ..form("hypertension", "clinic")
    };
    assert_eq!(
        problems(&f),
        [("adverse_reaction_uncontrolled", "inconsistent")]
    );
}

#[test]
fn hypoglycaemia_is_never_satisfactory() {
    // DOMAIN.md §2 "Hypoglycaemia at a follow-up": FPG ≤ 3.9 or frequent
    // hypoglycaemia is never 控制满意; 3 不良反应 on glucose-lowering drugs or insulin,
    // otherwise 2 控制不满意; a low FPG still triggers the urgent referral.
    let treated = |f: Findings| Findings {
        glucose_lowering: true,
        ..f
    };
    let frequent = |f: Findings| Findings {
        frequent_hypoglycaemia: true,
        ..f
    };
    check(vec![
        (
            "FPG 2.9 untreated is unsatisfactory and urgent",
            dm(29),
            (
                Some(2),
                true,
                true,
                14,
                &["urgent_glucose_low", "hypoglycaemia"],
            ),
        ),
        (
            "FPG 2.9 on treatment is an adverse reaction and urgent",
            treated(dm(29)),
            (
                Some(3),
                true,
                true,
                14,
                &["urgent_glucose_low", "hypoglycaemia"],
            ),
        ),
        (
            "FPG 4.0 on treatment is satisfactory",
            treated(dm(40)),
            (Some(1), false, false, 90, &["controlled"]),
        ),
        (
            "frequent hypoglycaemia with FPG 6.0 is unsatisfactory, not urgent",
            frequent(dm(60)),
            (Some(2), false, false, 14, &["hypoglycaemia"]),
        ),
        (
            "frequent hypoglycaemia on treatment is an adverse reaction",
            treated(frequent(dm(60))),
            (Some(3), false, false, 14, &["hypoglycaemia"]),
        ),
        (
            "frequent hypoglycaemia and FPG 8.0 names both",
            frequent(dm(80)),
            (
                Some(2),
                false,
                false,
                14,
                &["hypoglycaemia", "fpg_not_controlled"],
            ),
        ),
        (
            "a complication outranks hypoglycaemia and names it",
            Findings {
                complication: Complication::New,
                ..frequent(dm(60))
            },
            (Some(4), false, true, 14, &["complication", "hypoglycaemia"]),
        ),
        (
            "hypertension ignores the hypoglycaemia fields",
            frequent(htn(60, 130, 80)),
            (Some(1), false, false, 90, &["controlled"]),
        ),
    ]);
}
