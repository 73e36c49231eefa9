//! The clinical codes: each graded for the pharmacist.

use super::*;

#[test]
fn dose_over_max() {
    let g2 = Some(Grade::NotRecommended);
    table(
        FindingCode::DoseOverMax,
        vec![
            case!("amlodipine 10 mg", |d| d.lines[0].dose = Some(10.0), None),
            case!(
                "amlodipine 20 mg",
                |d| d.lines[0].dose = Some(20.0),
                Some((&[0], g2))
            ),
            case!(
                "amlodipine 10 mg twice a day",
                |d| {
                    d.lines[0].dose = Some(10.0);
                    d.lines[0].times_per_day = Some(2)
                },
                Some((&[0], g2))
            ),
            case!(
                "metformin 0.5 g three times (1500 mg)",
                |d| d.lines = vec![line("二甲双胍", 0.5, "g", 3, 7)],
                None
            ),
            case!(
                "metformin 1 g three times (3000 mg)",
                |d| d.lines = vec![line("二甲双胍", 1.0, "g", 3, 7)],
                Some((&[0], g2))
            ),
            case!(
                "a 20 kg child: amoxicillin 500 mg three times (75 mg/kg/day)",
                |d| {
                    d.patient.age_years = 6.0;
                    d.patient.weight_kg = Some(20.0);
                    d.patient.diagnoses = vec!["J02".into()];
                    d.lines = vec![line("阿莫西林", 500.0, "mg", 3, 5)]
                },
                None
            ),
            case!(
                "a 10 kg child: amoxicillin 500 mg three times (150 mg/kg/day)",
                |d| {
                    d.patient.age_years = 2.0;
                    d.patient.weight_kg = Some(10.0);
                    d.patient.diagnoses = vec!["J02".into()];
                    d.lines = vec![line("阿莫西林", 500.0, "mg", 3, 5)]
                },
                Some((&[0], g2))
            ),
            case!(
                "a child of unknown weight: over the daily cap",
                |d| {
                    d.patient.age_years = 6.0;
                    d.patient.weight_kg = None;
                    d.patient.diagnoses = vec!["J02".into()];
                    d.lines = vec![line("阿莫西林", 1500.0, "mg", 3, 5)]
                },
                Some((&[0], g2))
            ),
            case!(
                "extended-release metformin 2 g once a day",
                |d| d.lines = vec![line("二甲双胍缓释片", 2000.0, "mg", 1, 7)],
                None
            ),
            case!(
                "azithromycin 1 g once (chlamydia)",
                |d| {
                    d.patient.diagnoses = vec!["A56".into()];
                    d.lines = vec![line("阿奇霉素", 1.0, "g", 1, 1)]
                },
                None
            ),
            case!(
                "levamlodipine 10 mg (its own maximum is 5)",
                |d| d.lines = vec![line("苯磺酸左旋氨氯地平", 10.0, "mg", 1, 7)],
                Some((&[0], g2))
            ),
        ],
    );
}

#[test]
fn dose_under_min() {
    table(
        FindingCode::DoseUnderMin,
        vec![
            case!(
                "amlodipine 1 mg",
                |d| d.lines[0].dose = Some(1.0),
                Some((&[0], Some(Grade::Note)))
            ),
            case!(
                "amlodipine 2500 μg",
                |d| {
                    d.lines[0].dose = Some(2500.0);
                    d.lines[0].dose_unit = Some("μg".into())
                },
                None
            ),
        ],
    );
}

#[test]
fn frequency_out_of_range() {
    table(
        FindingCode::FrequencyOutOfRange,
        vec![
            case!(
                "amlodipine three times a day",
                |d| {
                    d.lines[0].dose = Some(2.5);
                    d.lines[0].times_per_day = Some(3)
                },
                Some((&[0], Some(Grade::Caution)))
            ),
            case!(
                "metformin twice a day",
                |d| d.lines = vec![line("二甲双胍", 500.0, "mg", 2, 7)],
                None
            ),
        ],
    );
}

#[test]
fn duplicate_therapy() {
    let g2 = Some(Grade::NotRecommended);
    table(
        FindingCode::DuplicateTherapy,
        vec![
            case!(
                "two dihydropyridine CCBs",
                |d| d.lines.push(line("硝苯地平", 30.0, "mg", 1, 7)),
                Some((&[0, 1], g2))
            ),
            case!(
                "two ACE inhibitors",
                |d| d.lines = vec![
                    line("依那普利", 10.0, "mg", 1, 7),
                    line("贝那普利", 10.0, "mg", 1, 7)
                ],
                Some((&[0, 1], g2))
            ),
            case!(
                "ACE inhibitor with ARB",
                |d| d.lines = vec![
                    line("依那普利", 10.0, "mg", 1, 7),
                    line("缬沙坦", 80.0, "mg", 1, 7)
                ],
                Some((&[0, 1], g2))
            ),
            case!(
                "the same drug twice",
                |d| d.lines.push(line("苯磺酸氨氯地平片", 5.0, "mg", 1, 7)),
                Some((&[0, 1], g2))
            ),
            case!(
                "a CCB while taking another",
                |d| d.patient.current_drugs = vec!["硝苯地平控释片".into()],
                Some((&[0], g2))
            ),
            case!(
                "a repeat of the current drug",
                |d| d.patient.current_drugs = vec!["氨氯地平".into()],
                None
            ),
            case!(
                "CCB with ACE inhibitor",
                |d| d.lines.push(line("依那普利", 10.0, "mg", 1, 7)),
                None
            ),
        ],
    );
}

#[test]
fn interaction() {
    table(
        FindingCode::Interaction,
        vec![
            case!(
                "clopidogrel with omeprazole",
                |d| {
                    d.patient.diagnoses.push("I25".into());
                    d.patient.diagnoses.push("K21".into());
                    d.lines = vec![
                        line("氯吡格雷", 75.0, "mg", 1, 7),
                        line("奥美拉唑", 20.0, "mg", 1, 7),
                    ]
                },
                Some((&[0, 1], Some(Grade::NotRecommended)))
            ),
            case!(
                "simvastatin with clarithromycin (contraindicated)",
                |d| {
                    d.patient.diagnoses.push("E78".into());
                    d.patient.diagnoses.push("J20".into());
                    d.lines = vec![
                        line("克拉霉素", 500.0, "mg", 2, 7),
                        line("辛伐他汀", 20.0, "mg", 1, 7),
                    ]
                },
                Some((&[0, 1], Some(Grade::Contraindicated)))
            ),
            case!(
                "warfarin on record, aspirin prescribed",
                |d| {
                    d.patient.diagnoses.push("I25".into());
                    d.patient.current_drugs = vec!["华法林钠片".into()];
                    d.lines = vec![line("阿司匹林", 100.0, "mg", 1, 7)]
                },
                Some((&[0], Some(Grade::NotRecommended)))
            ),
            case!(
                "ACE inhibitor with spironolactone (class with ingredient)",
                |d| {
                    d.patient.diagnoses.push("I50".into());
                    d.lines = vec![
                        line("依那普利", 10.0, "mg", 1, 7),
                        line("螺内酯", 20.0, "mg", 1, 7),
                    ]
                },
                Some((&[0, 1], Some(Grade::Caution)))
            ),
            case!(
                "amlodipine with metformin",
                |d| d.lines.push(line("二甲双胍", 500.0, "mg", 2, 7)),
                None
            ),
            case!(
                "nifedipine with rifampicin (the label forbids it)",
                |d| {
                    d.patient.diagnoses.push("A15".into());
                    d.lines = vec![
                        line("利福平", 600.0, "mg", 1, 7),
                        line("硝苯地平", 30.0, "mg", 1, 7),
                    ]
                },
                Some((&[0, 1], Some(Grade::Contraindicated)))
            ),
        ],
    );
}

#[test]
fn allergy() {
    let amoxicillin = |d: &mut Draft| {
        d.patient.diagnoses = vec!["J02".into()];
        d.lines = vec![line("阿莫西林", 500.0, "mg", 3, 5)];
    };
    table(
        FindingCode::Allergy,
        vec![
            case!(
                "penicillin class allergy, amoxicillin",
                |d| {
                    amoxicillin(d);
                    d.patient.allergies = vec!["青霉素".into()]
                },
                Some((&[0], Some(Grade::Contraindicated)))
            ),
            case!(
                "amoxicillin allergy, amoxicillin",
                |d| {
                    amoxicillin(d);
                    d.patient.allergies = vec!["阿莫西林".into()]
                },
                Some((&[0], Some(Grade::Contraindicated)))
            ),
            case!(
                "cephalosporin allergy, amoxicillin (cross)",
                |d| {
                    amoxicillin(d);
                    d.patient.allergies = vec!["头孢类".into()]
                },
                Some((&[0], Some(Grade::Caution)))
            ),
            case!(
                "amoxicillin allergy, cefuroxime (cross through its class)",
                |d| {
                    d.patient.diagnoses = vec!["J02".into()];
                    d.patient.allergies = vec!["阿莫西林".into()];
                    d.lines = vec![line("头孢呋辛", 250.0, "mg", 2, 5)]
                },
                Some((&[0], Some(Grade::Caution)))
            ),
            case!(
                "sulfonamide allergy, hydrochlorothiazide",
                |d| {
                    d.patient.allergies = vec!["磺胺".into()];
                    d.lines = vec![line("氢氯噻嗪", 12.5, "mg", 1, 7)]
                },
                Some((&[0], Some(Grade::Contraindicated)))
            ),
            case!(
                "macrolide allergy, azithromycin",
                |d| {
                    d.patient.diagnoses = vec!["J20".into()];
                    d.patient.allergies = vec!["大环内酯类".into()];
                    d.lines = vec![line("阿奇霉素", 500.0, "mg", 1, 3)]
                },
                Some((&[0], Some(Grade::Contraindicated)))
            ),
            case!(
                "quinolone allergy, levofloxacin",
                |d| {
                    d.patient.diagnoses = vec!["J18".into()];
                    d.patient.allergies = vec!["喹诺酮类".into()];
                    d.lines = vec![line("左氧氟沙星", 500.0, "mg", 1, 7)]
                },
                Some((&[0], Some(Grade::Contraindicated)))
            ),
            case!(
                "pollen allergy, amoxicillin",
                |d| {
                    amoxicillin(d);
                    d.patient.allergies = vec!["花粉".into()]
                },
                None
            ),
        ],
    );
}

#[test]
fn contraindicated_pregnancy() {
    let woman = |d: &mut Draft| {
        d.patient.sex = Sex::Female;
        d.patient.age_years = 30.0;
    };
    table(
        FindingCode::ContraindicatedPregnancy,
        vec![
            case!(
                "pregnant, enalapril (ACEI class rule)",
                |d| {
                    woman(d);
                    d.patient.pregnant = true;
                    d.lines = vec![line("依那普利", 10.0, "mg", 1, 7)]
                },
                Some((&[0], Some(Grade::Contraindicated)))
            ),
            case!(
                "pregnant, nifedipine",
                |d| {
                    woman(d);
                    d.patient.pregnant = true;
                    d.lines = vec![line("硝苯地平", 30.0, "mg", 1, 7)]
                },
                Some((&[0], Some(Grade::Caution)))
            ),
            case!(
                "not pregnant, enalapril",
                |d| {
                    woman(d);
                    d.lines = vec![line("依那普利", 10.0, "mg", 1, 7)]
                },
                None
            ),
        ],
    );
}

#[test]
fn contraindicated_lactation() {
    table(
        FindingCode::ContraindicatedLactation,
        vec![
            case!(
                "breastfeeding, atorvastatin",
                |d| {
                    d.patient.sex = Sex::Female;
                    d.patient.lactating = true;
                    d.patient.diagnoses.push("E78".into());
                    d.lines = vec![line("阿托伐他汀", 20.0, "mg", 1, 7)]
                },
                Some((&[0], Some(Grade::Contraindicated)))
            ),
            case!(
                "breastfeeding, amlodipine",
                |d| {
                    d.patient.sex = Sex::Female;
                    d.patient.lactating = true
                },
                Some((&[0], Some(Grade::Caution)))
            ),
            case!("not breastfeeding", |d| d.patient.sex = Sex::Female, None),
        ],
    );
}

#[test]
fn contraindicated_renal() {
    let metformin = |d: &mut Draft, egfr| {
        d.patient.egfr_ml_min = egfr;
        d.lines = vec![line("二甲双胍", 500.0, "mg", 2, 7)];
    };
    table(
        FindingCode::ContraindicatedRenal,
        vec![
            case!(
                "metformin at eGFR 25",
                |d| metformin(d, Some(25.0)),
                Some((&[0], Some(Grade::Contraindicated)))
            ),
            case!(
                "metformin at eGFR 40",
                |d| metformin(d, Some(40.0)),
                Some((&[0], Some(Grade::Caution)))
            ),
            case!("metformin at eGFR 60", |d| metformin(d, Some(60.0)), None),
            case!("metformin, eGFR unknown", |d| metformin(d, None), None),
        ],
    );
}

#[test]
fn contraindicated_hepatic() {
    table(
        FindingCode::ContraindicatedHepatic,
        vec![
            case!(
                "atorvastatin, moderate impairment",
                |d| {
                    d.patient.hepatic = Hepatic::Moderate;
                    d.lines = vec![line("阿托伐他汀", 20.0, "mg", 1, 7)]
                },
                Some((&[0], Some(Grade::Contraindicated)))
            ),
            case!(
                "atorvastatin, mild impairment",
                |d| {
                    d.patient.hepatic = Hepatic::Mild;
                    d.lines = vec![line("阿托伐他汀", 20.0, "mg", 1, 7)]
                },
                Some((&[0], Some(Grade::Caution)))
            ),
            case!(
                "atorvastatin, none",
                |d| d.lines = vec![line("阿托伐他汀", 20.0, "mg", 1, 7)],
                None
            ),
        ],
    );
}

#[test]
fn contraindicated_age() {
    table(
        FindingCode::ContraindicatedAge,
        vec![
            case!(
                "levofloxacin at 16",
                |d| {
                    d.patient.age_years = 16.0;
                    d.patient.diagnoses = vec!["J18".into()];
                    d.lines = vec![line("左氧氟沙星", 500.0, "mg", 1, 7)]
                },
                Some((&[0], Some(Grade::Contraindicated)))
            ),
            case!(
                "levofloxacin at 30",
                |d| {
                    d.patient.age_years = 30.0;
                    d.patient.diagnoses = vec!["J18".into()];
                    d.lines = vec![line("左氧氟沙星", 500.0, "mg", 1, 7)]
                },
                None
            ),
            case!(
                "diazepam at 70",
                |d| {
                    d.patient.age_years = 70.0;
                    d.patient.diagnoses = vec!["F41".into()];
                    d.lines = vec![line("地西泮", 2.5, "mg", 1, 7)]
                },
                Some((&[0], Some(Grade::Caution)))
            ),
        ],
    );
}

#[test]
fn indication_mismatch() {
    table(
        FindingCode::IndicationMismatch,
        vec![
            case!(
                "amlodipine for hypertension",
                |d| {
                    let _ = d;
                },
                None
            ),
            case!(
                "amlodipine with only diabetes",
                |d| d.patient.diagnoses = vec!["E11".into()],
                Some((&[0], Some(Grade::Caution)))
            ),
            case!(
                "omeprazole without a gastric diagnosis (its own grade)",
                |d| d.lines = vec![line("奥美拉唑", 20.0, "mg", 1, 7)],
                Some((&[0], Some(Grade::Note)))
            ),
            case!(
                "rifampicin for tuberculosis (class rule)",
                |d| {
                    d.patient.diagnoses = vec!["A15.0".into()];
                    d.lines = vec![line("利福平", 600.0, "mg", 1, 7)]
                },
                None
            ),
            case!(
                "an offline diagnosis counts",
                |d| {
                    d.patient.diagnoses.clear();
                    d.visit.offline_diagnoses = vec!["I10".into()]
                },
                None
            ),
            case!(
                "a sulfonylurea for type 1 diabetes",
                |d| {
                    d.patient.diagnoses = vec!["E10.9".into()];
                    d.lines = vec![line("格列美脲", 2.0, "mg", 1, 7)]
                },
                Some((&[0], Some(Grade::Caution)))
            ),
        ],
    );
}
