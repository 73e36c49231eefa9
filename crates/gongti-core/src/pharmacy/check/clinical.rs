//! The clinical rules: graded findings for the pharmacist (DOMAIN.md §4's second
//! table), each from a row of the knowledge base.

use super::*;
use crate::pharmacy::knowledge::{CautionKind, IngredientId, Subject};

impl Checker<'_> {
    pub(super) fn doses(&mut self, lines: &[Line<'_>]) {
        let age = self.draft.patient.age_years;
        let weight = self.draft.patient.weight_kg;
        let p = self.kb.params.clone();
        for l in lines {
            let (Some(route), Some(dose), Some(unit)) = (l.draft.route, l.draft.dose, l.unit)
            else {
                continue;
            };
            let Some(rule) = self.kb.doses.iter().find(|r| {
                r.ingredient == l.ingredient
                    && r.route == route
                    && age >= r.age_min_years
                    && r.age_max_years.is_none_or(|m| age < m)
            }) else {
                continue;
            };
            let Some(dose) = unit.convert(dose, rule.unit) else {
                continue;
            };
            let times = l.draft.times_per_day.unwrap_or(1);
            let day = dose * f64::from(times);
            let u = rule.unit.symbol();
            let name = self.name(l).to_owned();
            let name_en = self.name_en(l).to_owned();
            // Per-kg limits need the weight; without it only the absolute cap applies.
            let scale = if rule.per_kg { weight } else { Some(1.0) };
            let mut high = Vec::new();
            let mut low = Vec::new();
            if let Some(s) = scale {
                let basis = if rule.per_kg {
                    format!("（按 {} kg）", num(s))
                } else {
                    String::new()
                };
                // (the amount, its limit, per day, an upper limit)
                for (amount, limit, per_day, upper) in [
                    (dose, rule.dose_max * s, false, true),
                    (day, rule.day_max * s, true, true),
                    (dose, rule.dose_min * s, false, false),
                    (day, rule.day_min * s, true, false),
                ] {
                    if !(if upper {
                        over(amount, limit)
                    } else {
                        under(amount, limit)
                    }) {
                        continue;
                    }
                    let (what_zh, what_en) = if per_day {
                        ("每日", format!("{} {u} a day", num(amount)))
                    } else {
                        ("单次", format!("a dose of {} {u}", num(amount)))
                    };
                    let (beyond_zh, beyond_en) = if upper {
                        ("超过常用最大量", "over the usual maximum")
                    } else {
                        ("低于常用最小量", "under the usual minimum")
                    };
                    let text = (
                        format!(
                            "{what_zh} {}{u} {beyond_zh} {}{u}{basis}",
                            num(amount),
                            num(limit)
                        ),
                        format!("{what_en} is {beyond_en} of {} {u}", num(limit)),
                    );
                    if upper {
                        high.push(text)
                    } else {
                        low.push(text)
                    }
                }
            }
            if let Some(cap) = rule.day_cap.filter(|c| over(day, *c) && high.is_empty()) {
                high.push((
                    format!("每日 {}{u} 超过每日极量 {}{u}", num(day), num(cap)),
                    format!(
                        "{} {u} a day is over the daily cap of {} {u}",
                        num(day),
                        num(cap)
                    ),
                ));
            }
            for (list, code, grade, tail_zh, tail_en) in [
                (
                    high,
                    FindingCode::DoseOverMax,
                    p.dose_over_max_grade,
                    "；超量须注明理由并由医师再次签名",
                    "; a dose above the usual range needs a reason and the doctor's second signature",
                ),
                (
                    low,
                    FindingCode::DoseUnderMin,
                    p.dose_under_min_grade,
                    "",
                    "",
                ),
            ] {
                if !list.is_empty() {
                    let zh: Vec<String> = list.iter().map(|(z, _)| z.clone()).collect();
                    let en: Vec<String> = list.iter().map(|(_, e)| e.clone()).collect();
                    self.clinical(
                        code,
                        grade,
                        vec![l.index],
                        (
                            format!("{name}：{}{tail_zh}", zh.join("，")),
                            format!("{name_en}: {}{tail_en}", en.join("; ")),
                        ),
                        &rule.source,
                        Some(&rule.id),
                    );
                }
            }
            if let Some(t) = l.draft.times_per_day
                && !(rule.times_min..=rule.times_max).contains(&t)
            {
                let range = if rule.times_min == rule.times_max {
                    format!("{}", rule.times_min)
                } else {
                    format!("{}–{}", rule.times_min, rule.times_max)
                };
                self.clinical(
                    FindingCode::FrequencyOutOfRange,
                    p.frequency_grade,
                    vec![l.index],
                    (
                        format!("{name}：每日 {t} 次，常用为每日 {range} 次"),
                        format!("{name_en}: {t} times a day; the usual is {range}"),
                    ),
                    &rule.source,
                    Some(&rule.id),
                );
            }
        }
    }

    /// The patient's current drugs the knowledge base knows, less those prescribed
    /// again (a repeat prescription continues them).
    fn current(&self, lines: &[Line<'_>]) -> Vec<IngredientId> {
        let mut out: Vec<IngredientId> = Vec::new();
        for name in &self.draft.patient.current_drugs {
            if let Some(i) = self.kb.find_ingredient(name)
                && !lines.iter().any(|l| l.ingredient == i)
                && !out.contains(&i)
            {
                out.push(i);
            }
        }
        out
    }

    /// Duplicate therapy and interactions, between lines and between a line and a
    /// current drug.
    pub(super) fn pairs(&mut self, lines: &[Line<'_>]) {
        let kb = self.kb;
        let current = self.current(lines);
        let mut pairs: Vec<(usize, IngredientId, Option<usize>, IngredientId)> = Vec::new();
        for (i, a) in lines.iter().enumerate() {
            for b in &lines[i + 1..] {
                pairs.push((a.index, a.ingredient, Some(b.index), b.ingredient));
            }
            for c in &current {
                pairs.push((a.index, a.ingredient, None, *c));
            }
        }
        for (ai, a, bi, b) in pairs {
            let line_ids: Vec<usize> = std::iter::once(ai).chain(bi).collect();
            let (an, bn) = (kb.ingredient(a), kb.ingredient(b));
            let (b_zh, b_en) = match bi {
                Some(_) => (bn.name_zh.clone(), bn.name_en.clone()),
                None => (
                    format!("正在使用的{}", bn.name_zh),
                    format!("the current {}", bn.name_en),
                ),
            };
            if a == b {
                let p = &kb.params;
                self.clinical(
                    FindingCode::DuplicateTherapy,
                    p.duplicate_ingredient_grade,
                    line_ids,
                    (
                        format!("{}重复开具（重复成分）", an.name_zh),
                        format!("{} is prescribed twice (same ingredient)", an.name_en),
                    ),
                    p.sources
                        .get("duplicate_ingredient_grade")
                        .map_or("review2018", String::as_str),
                    None,
                );
                continue;
            }
            if let Some(rule) = kb
                .duplicates
                .iter()
                .filter(|r| {
                    kb.covers(Subject::Class(r.class), a) && kb.covers(Subject::Class(r.class), b)
                })
                .min_by_key(|r| r.grade)
            {
                let switch = if bi.is_none() {
                    "；如为换药，请停用原药"
                } else {
                    ""
                };
                let switch_en = if bi.is_none() {
                    "; if this is a switch, stop the current drug"
                } else {
                    ""
                };
                self.clinical(
                    FindingCode::DuplicateTherapy,
                    rule.grade,
                    line_ids.clone(),
                    (
                        format!("{}与{}：{}{switch}", an.name_zh, b_zh, rule.message_zh),
                        format!(
                            "{} with {}: {}{switch_en}",
                            an.name_en, b_en, rule.message_en
                        ),
                    ),
                    &rule.source,
                    Some(&rule.id),
                );
            }
            for rule in kb.interactions.iter().filter(|r| {
                (kb.covers(r.a, a) && kb.covers(r.b, b)) || (kb.covers(r.a, b) && kb.covers(r.b, a))
            }) {
                self.clinical(
                    FindingCode::Interaction,
                    rule.grade,
                    line_ids.clone(),
                    (
                        format!(
                            "{}与{}：{}。建议：{}",
                            an.name_zh, b_zh, rule.message_zh, rule.advice_zh
                        ),
                        format!(
                            "{} with {}: {}. Advice: {}",
                            an.name_en, b_en, rule.message_en, rule.advice_en
                        ),
                    ),
                    &rule.source,
                    Some(&rule.id),
                );
            }
        }
    }

    pub(super) fn allergies(&mut self, lines: &[Line<'_>]) {
        let kb = self.kb;
        // Each allergy the knowledge base understands, as what it names.
        let named: Vec<(&str, Subject)> = self
            .draft
            .patient
            .allergies
            .iter()
            .filter_map(|a| {
                kb.find_class(a)
                    .map(Subject::Class)
                    .or_else(|| kb.find_ingredient(a).map(Subject::Ingredient))
                    .map(|s| (a.as_str(), s))
            })
            .collect();
        let grade = kb.params.allergy_grade;
        for l in lines {
            let ing = kb.ingredient(l.ingredient);
            if let Some((word, _)) = named.iter().find(|(_, s)| kb.covers(*s, l.ingredient)) {
                self.clinical(
                    FindingCode::Allergy,
                    grade,
                    vec![l.index],
                    (
                        format!("患者对{word}过敏，{}属于该过敏原或同类药物", ing.name_zh),
                        format!(
                            "the patient is allergic to {word}; {} is that drug or of its class",
                            ing.name_en
                        ),
                    ),
                    kb.params
                        .sources
                        .get("allergy_grade")
                        .map_or("pass", String::as_str),
                    None,
                );
                continue;
            }
            let cross = kb.cross_allergies.iter().find_map(|r| {
                let drug_in_class = kb.covers(Subject::Class(r.class), l.ingredient);
                let allergy = named.iter().find(|(_, s)| match (*s, r.allergy) {
                    (Subject::Class(c), Subject::Class(rc)) => c == rc,
                    (Subject::Ingredient(i), rs) => kb.covers(rs, i),
                    (Subject::Class(_), Subject::Ingredient(_)) => false,
                });
                allergy
                    .filter(|_| drug_in_class)
                    .map(|(word, _)| (r, *word))
            });
            if let Some((rule, word)) = cross {
                self.clinical(
                    FindingCode::Allergy,
                    rule.grade,
                    vec![l.index],
                    (
                        format!("患者对{word}过敏：{}（{}）", rule.message_zh, ing.name_zh),
                        format!(
                            "the patient is allergic to {word}: {} ({})",
                            rule.message_en, ing.name_en
                        ),
                    ),
                    &rule.source,
                    Some(&rule.id),
                );
            }
        }
    }

    pub(super) fn cautions(&mut self, lines: &[Line<'_>]) {
        let kb = self.kb;
        let pt = &self.draft.patient;
        for l in lines {
            for code in [
                FindingCode::ContraindicatedPregnancy,
                FindingCode::ContraindicatedLactation,
                FindingCode::ContraindicatedRenal,
                FindingCode::ContraindicatedHepatic,
                FindingCode::ContraindicatedAge,
            ] {
                let strongest = kb
                    .cautions
                    .iter()
                    .filter(|r| kb.covers(r.subject, l.ingredient))
                    .filter(|r| match (code, r.kind) {
                        (FindingCode::ContraindicatedPregnancy, CautionKind::Pregnancy) => {
                            pt.pregnant
                        }
                        (FindingCode::ContraindicatedLactation, CautionKind::Lactation) => {
                            pt.lactating
                        }
                        (FindingCode::ContraindicatedRenal, CautionKind::RenalBelow(n)) => {
                            pt.egfr_ml_min.is_some_and(|e| e < n)
                        }
                        (FindingCode::ContraindicatedHepatic, CautionKind::HepaticFrom(h)) => {
                            pt.hepatic >= h
                        }
                        (FindingCode::ContraindicatedAge, CautionKind::AgeBelow(n)) => {
                            pt.age_years < n
                        }
                        (FindingCode::ContraindicatedAge, CautionKind::AgeFrom(n)) => {
                            pt.age_years >= n
                        }
                        _ => false,
                    })
                    .min_by_key(|r| r.grade);
                if let Some(rule) = strongest {
                    let ing = kb.ingredient(l.ingredient);
                    self.clinical(
                        code,
                        rule.grade,
                        vec![l.index],
                        (
                            format!("{}：{}", ing.name_zh, rule.message_zh),
                            format!("{}: {}", ing.name_en, rule.message_en),
                        ),
                        &rule.source,
                        Some(&rule.id),
                    );
                }
            }
        }
    }

    pub(super) fn indications(&mut self, lines: &[Line<'_>]) {
        let kb = self.kb;
        let d = self.draft;
        let diagnoses: Vec<&String> = d
            .patient
            .diagnoses
            .iter()
            .chain(&d.visit.offline_diagnoses)
            .collect();
        for l in lines {
            let rules: Vec<_> = kb
                .indications
                .iter()
                .filter(|r| kb.covers(r.subject, l.ingredient))
                .collect();
            let treats = rules.iter().any(|r| {
                diagnoses
                    .iter()
                    .any(|dx| icd_matches(&r.icd10_prefixes, dx))
            });
            // The ingredient's own rule speaks for it before a class's.
            let rule = rules
                .iter()
                .find(|r| r.subject == Subject::Ingredient(l.ingredient))
                .or(rules.first());
            if let (false, Some(rule)) = (treats, rule) {
                let ing = kb.ingredient(l.ingredient);
                self.clinical(
                    FindingCode::IndicationMismatch,
                    rule.grade,
                    vec![l.index],
                    (
                        format!("{}：诊断中没有该药的适应症（无适应症用药）", ing.name_zh),
                        format!("{}: no diagnosis on record that it treats", ing.name_en),
                    ),
                    &rule.source,
                    Some(&rule.id),
                );
            }
        }
    }
}
