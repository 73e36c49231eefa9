//! The prescription check, one named test per finding code of DOMAIN.md §4, each a
//! table of drafts with the findings they must and must not raise.

use super::check::{DRAFT_LINES_MAX, LEGAL_SOURCES};
use super::knowledge::{BUILTIN, DoseUnit, IngredientId, KnowledgeFiles};
use super::*;
use crate::Sex;
use crate::problem::Problem;

fn kb() -> &'static Knowledge {
    Knowledge::builtin()
}

fn line(name: &str, dose: f64, unit: &str, times: u32, days: u32) -> DraftLine {
    DraftLine {
        generic_name: name.into(),
        dose: Some(dose),
        dose_unit: Some(unit.into()),
        times_per_day: Some(times),
        route: Some(Route::Oral),
        days: Some(days),
    }
}

/// A 65-year-old man with hypertension and diabetes, seen in a clinic by a licensed
/// doctor of intermediate title with 10 years' practice: amlodipine 5 mg once a day
/// for 7 days is clear.
fn base() -> Draft {
    Draft {
        patient: PatientFacts {
            age_years: 65.0,
            sex: Sex::Male,
            weight_kg: Some(70.0),
            pregnant: false,
            lactating: false,
            egfr_ml_min: Some(90.0),
            hepatic: Hepatic::None,
            allergies: Vec::new(),
            diagnoses: vec!["I10.x00".into(), "E11.900".into()],
            current_drugs: Vec::new(),
        },
        prescriber: Prescriber {
            licensed: true,
            independent_practice_years: 10,
            title: TitleLevel::Intermediate,
            assistant: false,
            cosigned: false,
            township_solo: false,
            narcotic_privilege: false,
        },
        visit: Visit {
            channel: Channel::Clinic,
            offline_diagnoses: Vec::new(),
            guardian_present: false,
            specialist_present: false,
        },
        kind: RxKind::Normal,
        validity_days: 1,
        long: None,
        supply_reason: false,
        lines: vec![line("氨氯地平", 5.0, "mg", 1, 7)],
    }
}

fn online(d: &mut Draft) {
    d.visit.channel = Channel::Online;
    d.visit.offline_diagnoses = vec!["I10".into(), "E11".into()];
}

fn judge(change: impl FnOnce(&mut Draft)) -> Judgement {
    let mut d = base();
    change(&mut d);
    check(kb(), &d).expect("a valid draft")
}

/// A named change to the base draft and what it must raise: `None` for nothing, or
/// the first finding's lines and grade.
type Case = (
    &'static str,
    Box<dyn FnOnce(&mut Draft)>,
    Option<(&'static [usize], Option<Grade>)>,
);

/// Judges each case and checks what it raised of `code`.
fn table(code: FindingCode, cases: Vec<Case>) {
    for (name, change, expected) in cases {
        let j = judge(change);
        let found: Vec<&Finding> = j.findings.iter().filter(|f| f.code == code).collect();
        match expected {
            None => assert!(found.is_empty(), "{name}: unexpected {code:?}: {found:#?}"),
            Some((lines, grade)) => {
                let f = found
                    .first()
                    .unwrap_or_else(|| panic!("{name}: no {code:?} in {:#?}", j.findings));
                assert_eq!(f.lines, lines, "{name}: lines of {f:#?}");
                assert_eq!(f.grade, grade, "{name}: grade of {f:#?}");
                assert!(
                    !f.basis.is_empty() && !f.message_zh.is_empty() && !f.message_en.is_empty()
                );
                let verdict = if code.is_legal() {
                    Verdict::Blocked
                } else {
                    Verdict::Flagged
                };
                if code.is_legal() || j.findings.iter().all(|f| !f.code.is_legal()) {
                    assert_eq!(j.verdict, verdict, "{name}");
                }
            }
        }
    }
}

macro_rules! case {
    ($name:expr, |$d:ident| $body:expr, $expected:expr) => {
        (
            $name,
            Box::new(move |$d: &mut Draft| {
                $body;
            }) as Box<dyn FnOnce(&mut Draft)>,
            $expected,
        )
    };
}

mod clinical;
mod legal;

#[test]
fn the_shipped_knowledge_base_loads_and_covers_the_chronic_drugs() {
    let kb = kb();
    assert_eq!(kb.version, "2026.12.1");
    for name in [
        "amlodipine",
        "nifedipine",
        "felodipine",
        "enalapril",
        "captopril",
        "benazepril",
        "losartan",
        "valsartan",
        "irbesartan",
        "telmisartan",
        "hydrochlorothiazide",
        "indapamide",
        "spironolactone",
        "furosemide",
        "metoprolol",
        "bisoprolol",
        "metformin",
        "glimepiride",
        "gliclazide",
        "glipizide",
        "acarbose",
        "sitagliptin",
        "insulin human",
        "insulin glargine",
        "atorvastatin",
        "rosuvastatin",
        "simvastatin",
        "aspirin",
        "clopidogrel",
        "warfarin",
        "amoxicillin",
        "cefuroxime",
        "levofloxacin",
        "clarithromycin",
        "azithromycin",
        "isoniazid",
        "rifampicin",
        "omeprazole",
        "montelukast",
        "salbutamol",
        "diazepam",
        "alprazolam",
        "tramadol",
        "morphine",
        "allopurinol",
        "potassium chloride",
    ] {
        let i = kb.find_ingredient(name).unwrap_or_else(|| panic!("{name}"));
        assert!(
            kb.doses.iter().any(|r| r.ingredient == i),
            "{name} has a dose"
        );
    }
    for id in LEGAL_SOURCES {
        assert_ne!(kb.citation(id), id, "legal source {id} is in sources.tsv");
    }
    assert_eq!(
        kb.title("主治医师"),
        Some((TitleLevel::Intermediate, false))
    );
    assert_eq!(kb.title("执业助理医师"), Some((TitleLevel::Junior, true)));
    assert_eq!(kb.title("主任药师"), Some((TitleLevel::Senior, false)));
    // Names as prescribers write them.
    for (written, code) in [
        ("苯磺酸氨氯地平片", "amlodipine"),
        ("盐酸二甲双胍缓释片", "metformin"),
        (" Metformin ", "metformin"),
        ("阿莫西林胶囊", "amoxicillin"),
        ("甘精胰岛素注射液", "insulin_glargine"),
    ] {
        let i = kb
            .find_ingredient(written)
            .unwrap_or_else(|| panic!("{written}"));
        assert_eq!(kb.ingredient(i).code, code);
    }
    // Allergy classes match every member.
    for (allergy, members) in [
        ("青霉素类", &["amoxicillin"][..]),
        ("头孢", &["cefuroxime"][..]),
        (
            "磺胺类",
            &[
                "hydrochlorothiazide",
                "indapamide",
                "furosemide",
                "glimepiride",
                "gliclazide",
                "glipizide",
            ][..],
        ),
        ("喹诺酮类", &["levofloxacin"][..]),
        ("大环内酯类", &["clarithromycin", "azithromycin"][..]),
    ] {
        let class = kb
            .find_class(allergy)
            .unwrap_or_else(|| panic!("{allergy}"));
        let covered: Vec<&str> = kb
            .ingredients
            .iter()
            .filter(|i| i.classes.contains(&class))
            .map(|i| i.code.as_str())
            .collect();
        assert_eq!(covered, members, "{allergy}");
    }
}

#[test]
fn a_broken_knowledge_base_is_refused_with_every_problem_named() {
    let files = KnowledgeFiles {
        interactions: "id\ta\tb\tgrade\tmessage_zh\tmessage_en\tadvice_zh\tadvice_en\tsource\nx\twarfarin\tnosuch\t7\tm\tm\ta\ta\tnowhere\n",
        ..BUILTIN
    };
    let problems: Vec<String> = Knowledge::load(files)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        problems,
        [
            "interactions.tsv:2: b `nosuch` is neither an ingredient nor a class",
            "interactions.tsv:2: grade `7` is not 1 to 4",
            "interactions.tsv:2: unknown source `nowhere`",
        ]
    );
    let files = KnowledgeFiles {
        indications: "id\tsubject\ticd10\tgrade\tsource\nind-x\tamlodipine\tI10\t3\thtn2018\n",
        ..BUILTIN
    };
    let problems = Knowledge::load(files).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.reason == "no indication covers `metformin`"),
        "{problems:?}"
    );
}

#[test]
fn the_formulary_has_a_product_of_every_ingredient_and_counts_packs() {
    let kb = kb();
    for (i, ingredient) in kb.ingredients.iter().enumerate() {
        assert!(
            kb.products_of(IngredientId(u16::try_from(i).unwrap()))
                .next()
                .is_some(),
            "no product of {}",
            ingredient.code
        );
    }
    let tablet = kb.product("amlodipine-tablet-5mg-28").unwrap();
    assert_eq!(tablet.name_zh, "苯磺酸氨氯地平片");
    // 5 mg once a day for 28 days: one box of 28; for 30 days: two.
    assert_eq!(tablet.packs_for(5.0, DoseUnit::Mg, 1, 28), Some(1));
    assert_eq!(tablet.packs_for(5.0, DoseUnit::Mg, 1, 30), Some(2));
    // 7.5 mg is two tablets a dose (no tablet is split when counting).
    assert_eq!(tablet.packs_for(7.5, DoseUnit::Mg, 1, 14), Some(1));
    assert_eq!(tablet.packs_for(7.5, DoseUnit::Mg, 1, 15), Some(2));
    // 0.5 g of metformin three times a day for 14 days: 42 tablets of 500 mg, 3 boxes of 20.
    let metformin = kb.product("metformin-tablet-500mg-20").unwrap();
    assert_eq!(metformin.packs_for(0.5, DoseUnit::G, 3, 14), Some(3));
    // Insulin in IU: 20 IU a day for 28 days is 560 IU, two 300 IU pens; never in mg.
    let insulin = kb.product("insulin_human-pen-300iu-1").unwrap();
    assert_eq!(insulin.packs_for(20.0, DoseUnit::Iu, 1, 28), Some(2));
    assert_eq!(insulin.packs_for(20.0, DoseUnit::Mg, 1, 28), None);
    let files = KnowledgeFiles {
        products: "code\tingredient\tname_zh\tform\tstrength\tunit\tpack_size\tpack_unit\troute\tinsurance_class\tprice_fen\tprice_source\tsource\nx\tnosuch\tX\ttablet\t0\tmg\t10\t盒\toral\t丙\t100\tdemo-price\tlabel-amlodipine\n",
        ..BUILTIN
    };
    let problems: Vec<String> = Knowledge::load(files)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        problems,
        [
            "products.tsv:2: ingredient `nosuch` is neither an ingredient nor a class",
            "products.tsv:2: strength, pack_size or price_fen is not a number, or unit, route or insurance_class unknown",
        ]
    );
}

#[test]
fn every_rule_is_listed_once_for_review_with_its_basis() {
    let kb = kb();
    let rules = kb.rules();
    let rows = kb.doses.len()
        + kb.cautions.len()
        + kb.interactions.len()
        + kb.duplicates.len()
        + kb.indications.len()
        + kb.cross_allergies.len();
    assert_eq!(rules.len(), rows);
    let ids: std::collections::HashSet<&str> = rules.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), rows, "rule ids are unique");
    assert!(
        rules
            .iter()
            .all(|r| kb.has_rule(r.id) && !r.basis.is_empty() && !r.text_zh.is_empty())
    );
    assert!(!kb.has_rule("ddi-999"));
    let ddi = rules.iter().find(|r| r.id == "ddi-001").unwrap();
    assert_eq!(
        (ddi.kind, ddi.about_zh.as_str()),
        (knowledge::RuleKind::Interaction, "氯吡格雷 + 奥美拉唑")
    );
    let dose = rules.iter().find(|r| r.id == "dose-amlodipine-1").unwrap();
    assert_eq!(dose.text_zh, "单次 2.5–10mg，每日 2.5–10mg，每日 1 次");
}

#[test]
fn an_institution_disables_or_confirms_a_rule() {
    use super::check::{RuleSettings, check_with};
    // Clopidogrel with omeprazole (ddi-001) and metformin at eGFR 40.
    let mut d = base();
    d.patient.egfr_ml_min = Some(40.0);
    d.patient.diagnoses.push("I25".into());
    d.patient.diagnoses.push("K21".into());
    d.lines = vec![
        line("氯吡格雷", 75.0, "mg", 1, 7),
        line("奥美拉唑", 20.0, "mg", 1, 7),
        line("二甲双胍", 500.0, "mg", 2, 7),
    ];
    let all = check(kb(), &d).unwrap();
    assert!(
        all.findings
            .iter()
            .any(|f| f.rule.as_deref() == Some("ddi-001"))
    );
    assert!(all.findings.iter().all(|f| !f.confirmed));
    let mut settings = RuleSettings::default();
    settings.disabled.insert("ddi-001".into());
    let renal = all
        .findings
        .iter()
        .find(|f| f.code == FindingCode::ContraindicatedRenal)
        .unwrap();
    settings.confirmed.insert(renal.rule.clone().unwrap());
    let set = check_with(kb(), &d, &settings).unwrap();
    assert!(
        set.findings
            .iter()
            .all(|f| f.rule.as_deref() != Some("ddi-001"))
    );
    assert_eq!(set.findings.len(), all.findings.len() - 1);
    assert!(
        set.findings
            .iter()
            .find(|f| f.code == FindingCode::ContraindicatedRenal)
            .unwrap()
            .confirmed
    );
    // Only the disabled rule's finding goes: a draft with nothing else is then clear.
    d.lines.truncate(2);
    d.patient.egfr_ml_min = None;
    assert_eq!(check(kb(), &d).unwrap().verdict, Verdict::Flagged);
    assert_eq!(
        check_with(kb(), &d, &settings).unwrap().verdict,
        Verdict::Clear
    );
}

#[test]
fn a_clear_draft_has_no_finding() {
    let j = judge(|_| {});
    assert_eq!(
        (j.verdict, j.findings.len()),
        (Verdict::Clear, 0),
        "{:#?}",
        j.findings
    );
    assert_eq!(j.ruleset_version, "2026.12.1");
}

#[test]
fn findings_are_collected_together_and_legal_ones_block() {
    // Online, six lines, a controlled drug, an over-long supply and an interaction.
    let j = judge(|d| {
        online(d);
        d.validity_days = 5;
        d.lines = vec![
            line("氨氯地平", 5.0, "mg", 1, 30),
            line("硝苯地平", 30.0, "mg", 1, 7),
            line("二甲双胍", 500.0, "mg", 2, 7),
            line("地西泮", 5.0, "mg", 1, 3),
            line("阿托伐他汀", 20.0, "mg", 1, 7),
            line("阿卡波糖", 50.0, "mg", 3, 7),
        ];
    });
    let codes: Vec<&str> = j.findings.iter().map(|f| f.code.code()).collect();
    for code in [
        "too_many_drugs",
        "validity_over_limit",
        "supply_over_limit",
        "online_controlled_drug",
        "online_first_visit",
        "duplicate_therapy",
    ] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    assert_eq!(j.verdict, Verdict::Blocked);
    // Legal findings come first.
    let first_clinical = j.findings.iter().position(|f| !f.code.is_legal()).unwrap();
    assert!(
        j.findings[..first_clinical]
            .iter()
            .all(|f| f.code.is_legal())
    );
    assert!(
        j.findings[first_clinical..]
            .iter()
            .all(|f| !f.code.is_legal())
    );
}

#[test]
fn a_draft_that_cannot_be_judged_names_every_problem() {
    let mut d = base();
    d.patient.pregnant = true; // a man
    d.patient.age_years = 200.0;
    d.validity_days = 0;
    d.lines = vec![
        line("不存在的药", 1.0, "mg", 1, 7),
        DraftLine {
            dose_unit: Some("IU".into()),
            ..line("氨氯地平", 5.0, "mg", 1, 7)
        },
        DraftLine {
            dose_unit: Some("片".into()),
            times_per_day: Some(30),
            ..line("氨氯地平", 5.0, "mg", 1, 7)
        },
    ];
    let p = check(kb(), &d).unwrap_err();
    let fields: Vec<(&str, &str)> = p
        .fields
        .iter()
        .map(|f| (f.field, f.problem.code()))
        .collect();
    assert_eq!(
        fields,
        [
            ("age_years", "out_of_range"),
            ("pregnant", "inconsistent"),
            ("validity_days", "out_of_range")
        ]
    );
    let lines: Vec<(usize, &str, &str)> = p
        .lines
        .iter()
        .map(|(i, f)| (*i, f.field, f.problem.code()))
        .collect();
    assert_eq!(
        lines,
        [
            (0, "generic_name", "unknown_drug"),
            (1, "dose_unit", "wrong_unit"),
            (2, "times_per_day", "out_of_range"),
            (2, "dose_unit", "unknown_code")
        ]
    );
    assert_eq!(
        p.lines[1].1.problem,
        Problem::WrongUnit {
            expected: "g、mg 或 μg"
        }
    );
    d = base();
    d.lines = (0..=DRAFT_LINES_MAX)
        .map(|_| line("氨氯地平", 5.0, "mg", 1, 7))
        .collect();
    assert!(
        check(kb(), &d)
            .unwrap_err()
            .fields
            .iter()
            .any(|f| f.field == "lines")
    );
}

#[test]
fn every_finding_code_has_its_named_test() {
    // The names of the tests above are the codes; this list must stay complete.
    let tested = [
        "online_first_visit",
        "online_controlled_drug",
        "online_child_unattended",
        "prescriber_not_qualified",
        "too_many_drugs",
        "as_directed",
        "supply_over_limit",
        "long_rx_excluded_drug",
        "validity_over_limit",
        "dose_over_max",
        "dose_under_min",
        "frequency_out_of_range",
        "duplicate_therapy",
        "interaction",
        "allergy",
        "contraindicated_pregnancy",
        "contraindicated_lactation",
        "contraindicated_renal",
        "contraindicated_hepatic",
        "contraindicated_age",
        "indication_mismatch",
    ];
    let codes: Vec<&str> = FindingCode::ALL.iter().map(|c| c.code()).collect();
    assert_eq!(codes, tested);
    let source = [include_str!("legal.rs"), include_str!("clinical.rs")].concat();
    for code in tested {
        assert!(
            source.contains(&format!("fn {code}()")),
            "a test named {code}"
        );
    }
}
