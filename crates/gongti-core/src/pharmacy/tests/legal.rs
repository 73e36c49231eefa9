//! The legal and format codes: each blocks issuing.

use super::*;

#[test]
fn online_first_visit() {
    table(
        FindingCode::OnlineFirstVisit,
        vec![
            case!(
                "online with the same disease diagnosed offline",
                |d| online(d),
                None
            ),
            case!(
                "online with no offline diagnosis",
                |d| {
                    online(d);
                    d.visit.offline_diagnoses.clear()
                },
                Some((&[0], None))
            ),
            case!(
                "online, offline diagnosis of another disease",
                |d| {
                    online(d);
                    d.visit.offline_diagnoses = vec!["E11".into()]
                },
                Some((&[0], None))
            ),
            case!(
                "in a clinic no offline evidence is needed",
                |d| d.visit.offline_diagnoses.clear(),
                None
            ),
            case!(
                "only the untreated line",
                |d| {
                    online(d);
                    d.visit.offline_diagnoses = vec!["I10".into()];
                    d.lines.push(line("二甲双胍", 500.0, "mg", 2, 7))
                },
                Some((&[1], None))
            ),
        ],
    );
}

#[test]
fn online_controlled_drug() {
    table(
        FindingCode::OnlineControlledDrug,
        vec![
            case!(
                "diazepam (精二) online",
                |d| {
                    online(d);
                    d.visit.offline_diagnoses.push("F41".into());
                    d.lines = vec![line("地西泮", 5.0, "mg", 1, 3)]
                },
                Some((&[0], None))
            ),
            case!(
                "tramadol (精二) online",
                |d| {
                    online(d);
                    d.lines.push(line("曲马多", 50.0, "mg", 2, 3))
                },
                Some((&[1], None))
            ),
            case!(
                "morphine (麻醉) online",
                |d| {
                    online(d);
                    d.lines = vec![line("吗啡", 10.0, "mg", 2, 3)]
                },
                Some((&[0], None))
            ),
            case!(
                "diazepam in a clinic",
                |d| d.lines = vec![line("地西泮", 5.0, "mg", 1, 3)],
                None
            ),
        ],
    );
}

#[test]
fn online_child_unattended() {
    let child = |d: &mut Draft| {
        online(d);
        d.patient.age_years = 5.0;
        d.patient.weight_kg = Some(18.0);
        d.visit.offline_diagnoses = vec!["J45".into()];
        d.patient.diagnoses = vec!["J45".into()];
        d.lines = vec![line("孟鲁司特", 4.0, "mg", 1, 7)];
    };
    table(
        FindingCode::OnlineChildUnattended,
        vec![
            case!("a 5-year-old alone", |d| child(d), Some((&[], None))),
            case!(
                "with a guardian only",
                |d| {
                    child(d);
                    d.visit.guardian_present = true
                },
                Some((&[], None))
            ),
            case!(
                "with a guardian and a specialist",
                |d| {
                    child(d);
                    d.visit.guardian_present = true;
                    d.visit.specialist_present = true
                },
                None
            ),
            case!(
                "a 6-year-old",
                |d| {
                    child(d);
                    d.patient.age_years = 6.0;
                    d.lines = vec![line("孟鲁司特", 5.0, "mg", 1, 7)]
                },
                None
            ),
            case!(
                "a 5-year-old in a clinic",
                |d| {
                    child(d);
                    d.visit.channel = Channel::Clinic
                },
                None
            ),
        ],
    );
}

#[test]
fn prescriber_not_qualified() {
    table(
        FindingCode::PrescriberNotQualified,
        vec![
            case!(
                "unlicensed",
                |d| d.prescriber.licensed = false,
                Some((&[0], None))
            ),
            case!(
                "online with 2 years' practice",
                |d| {
                    online(d);
                    d.prescriber.independent_practice_years = 2
                },
                Some((&[0], None))
            ),
            case!(
                "online with 3 years' practice",
                |d| {
                    online(d);
                    d.prescriber.independent_practice_years = 3
                },
                None
            ),
            case!(
                "in a clinic with 1 year",
                |d| d.prescriber.independent_practice_years = 1,
                None
            ),
            case!(
                "assistant without co-signature",
                |d| d.prescriber.assistant = true,
                Some((&[0], None))
            ),
            case!(
                "assistant co-signed",
                |d| {
                    d.prescriber.assistant = true;
                    d.prescriber.cosigned = true
                },
                None
            ),
            case!(
                "assistant alone in a township",
                |d| {
                    d.prescriber.assistant = true;
                    d.prescriber.township_solo = true
                },
                None
            ),
            case!(
                "first long prescription by a junior doctor",
                |d| {
                    d.prescriber.title = TitleLevel::Junior;
                    d.long = Some(LongRx {
                        first: true,
                        assessment_recorded: false,
                        patient_confirmed: false,
                    });
                    d.lines[0].days = Some(28)
                },
                Some((&[0], None))
            ),
            case!(
                "a later long prescription by a junior doctor",
                |d| {
                    d.prescriber.title = TitleLevel::Junior;
                    d.long = Some(LongRx {
                        first: false,
                        assessment_recorded: false,
                        patient_confirmed: false,
                    });
                    d.lines[0].days = Some(28)
                },
                None
            ),
            case!(
                "morphine without the narcotic right",
                |d| {
                    d.patient.diagnoses.push("C34".into());
                    d.lines.push(line("吗啡", 10.0, "mg", 2, 3))
                },
                Some((&[1], None))
            ),
            case!(
                "morphine with the narcotic right",
                |d| {
                    d.prescriber.narcotic_privilege = true;
                    d.patient.diagnoses.push("C34".into());
                    d.lines = vec![line("吗啡", 10.0, "mg", 2, 3)]
                },
                None
            ),
            case!(
                "restricted-tier levofloxacin by a junior doctor",
                |d| {
                    d.prescriber.title = TitleLevel::Junior;
                    d.patient.diagnoses.push("J18".into());
                    d.lines = vec![line("左氧氟沙星", 500.0, "mg", 1, 7)]
                },
                Some((&[0], None))
            ),
            case!(
                "levofloxacin by an intermediate doctor",
                |d| {
                    d.patient.diagnoses.push("J18".into());
                    d.lines = vec![line("左氧氟沙星", 500.0, "mg", 1, 7)]
                },
                None
            ),
        ],
    );
}

#[test]
fn too_many_drugs() {
    let five = |d: &mut Draft| {
        d.lines = vec![
            line("氨氯地平", 5.0, "mg", 1, 7),
            line("二甲双胍", 500.0, "mg", 2, 7),
            line("阿托伐他汀", 20.0, "mg", 1, 7),
            line("阿卡波糖", 50.0, "mg", 3, 7),
            line("西格列汀", 100.0, "mg", 1, 7),
        ];
    };
    table(
        FindingCode::TooManyDrugs,
        vec![
            case!("five drugs", |d| five(d), None),
            case!(
                "six drugs",
                |d| {
                    five(d);
                    d.lines.push(line("格列美脲", 2.0, "mg", 1, 7))
                },
                Some((&[5], None))
            ),
        ],
    );
}

#[test]
fn as_directed() {
    table(
        FindingCode::AsDirected,
        vec![
            case!("no dose", |d| d.lines[0].dose = None, Some((&[0], None))),
            case!(
                "unit written 遵医嘱",
                |d| d.lines[0].dose_unit = Some("遵医嘱".into()),
                Some((&[0], None))
            ),
            case!(
                "no frequency",
                |d| d.lines[0].times_per_day = None,
                Some((&[0], None))
            ),
            case!("no route", |d| d.lines[0].route = None, Some((&[0], None))),
            case!(
                "exact",
                |d| {
                    let _ = d;
                },
                None
            ),
        ],
    );
}

#[test]
fn supply_over_limit() {
    let long = |d: &mut Draft, days, assessed| {
        d.long = Some(LongRx {
            first: false,
            assessment_recorded: assessed,
            patient_confirmed: assessed,
        });
        d.lines[0].days = Some(days);
    };
    table(
        FindingCode::SupplyOverLimit,
        vec![
            case!("7 days", |d| d.lines[0].days = Some(7), None),
            case!(
                "8 days without a reason",
                |d| d.lines[0].days = Some(8),
                Some((&[0], None))
            ),
            case!(
                "30 days with a written reason",
                |d| {
                    d.lines[0].days = Some(30);
                    d.supply_reason = true
                },
                None
            ),
            case!(
                "emergency 4 days",
                |d| {
                    d.kind = RxKind::Emergency;
                    d.lines[0].days = Some(4)
                },
                Some((&[0], None))
            ),
            case!(
                "emergency 3 days",
                |d| {
                    d.kind = RxKind::Emergency;
                    d.lines[0].days = Some(3)
                },
                None
            ),
            case!("long 28 days", |d| long(d, 28, false), None),
            case!(
                "long 35 days unassessed",
                |d| long(d, 35, false),
                Some((&[0], None))
            ),
            case!(
                "long 84 days assessed and confirmed",
                |d| long(d, 84, true),
                None
            ),
            case!("long 85 days", |d| long(d, 85, true), Some((&[0], None))),
        ],
    );
}

#[test]
fn long_rx_excluded_drug() {
    let long = |d: &mut Draft| {
        d.long = Some(LongRx {
            first: false,
            assessment_recorded: false,
            patient_confirmed: false,
        })
    };
    table(
        FindingCode::LongRxExcludedDrug,
        vec![
            case!("amlodipine", |d| long(d), None),
            case!(
                "amoxicillin",
                |d| {
                    long(d);
                    d.patient.diagnoses.push("J20".into());
                    d.lines.push(line("阿莫西林", 500.0, "mg", 3, 7))
                },
                Some((&[1], None))
            ),
            case!(
                "isoniazid for tuberculosis",
                |d| {
                    long(d);
                    d.patient.diagnoses.push("A15".into());
                    d.lines = vec![line("异烟肼", 300.0, "mg", 1, 28)]
                },
                None
            ),
            case!(
                "diazepam (精二)",
                |d| {
                    long(d);
                    d.lines = vec![line("地西泮", 5.0, "mg", 1, 7)]
                },
                Some((&[0], None))
            ),
            case!(
                "insulin (special storage)",
                |d| {
                    long(d);
                    d.lines = vec![DraftLine {
                        route: Some(Route::Sc),
                        ..line("甘精胰岛素", 10.0, "IU", 1, 28)
                    }]
                },
                Some((&[0], None))
            ),
        ],
    );
}

#[test]
fn validity_over_limit() {
    table(
        FindingCode::ValidityOverLimit,
        vec![
            case!("3 days", |d| d.validity_days = 3, None),
            case!("4 days", |d| d.validity_days = 4, Some((&[], None))),
        ],
    );
}
