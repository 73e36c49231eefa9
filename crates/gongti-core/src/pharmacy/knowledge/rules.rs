//! The knowledge base's rules listed one by one, as an institution's pharmacy and
//! therapeutics committee reviews them (confirm or disable each): what it is about, its
//! grade, what it says and its source.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    Dose,
    Caution,
    Interaction,
    Duplicate,
    Indication,
    CrossAllergy,
}

impl RuleKind {
    pub const ALL: [RuleKind; 6] = [
        RuleKind::Dose,
        RuleKind::Caution,
        RuleKind::Interaction,
        RuleKind::Duplicate,
        RuleKind::Indication,
        RuleKind::CrossAllergy,
    ];

    pub fn code(self) -> &'static str {
        match self {
            RuleKind::Dose => "dose",
            RuleKind::Caution => "caution",
            RuleKind::Interaction => "interaction",
            RuleKind::Duplicate => "duplicate",
            RuleKind::Indication => "indication",
            RuleKind::CrossAllergy => "cross_allergy",
        }
    }

    pub fn parse(code: &str) -> Option<RuleKind> {
        RuleKind::ALL.into_iter().find(|k| k.code() == code)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            RuleKind::Dose => "剂量",
            RuleKind::Caution => "特殊人群禁忌",
            RuleKind::Interaction => "相互作用",
            RuleKind::Duplicate => "重复用药",
            RuleKind::Indication => "适应症",
            RuleKind::CrossAllergy => "交叉过敏",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            RuleKind::Dose => "dose",
            RuleKind::Caution => "patient state",
            RuleKind::Interaction => "interaction",
            RuleKind::Duplicate => "duplicate therapy",
            RuleKind::Indication => "indication",
            RuleKind::CrossAllergy => "cross-allergy",
        }
    }
}

/// One rule as a reviewer reads it.
#[derive(Debug, Clone)]
pub struct RuleEntry<'a> {
    pub id: &'a str,
    pub kind: RuleKind,
    /// What it is about: a drug, a pair, a class.
    pub about_zh: String,
    pub about_en: String,
    /// Its grade; indications and doses carry the parameter's or the row's.
    pub grade: Grade,
    pub text_zh: String,
    pub text_en: String,
    /// The citation of its source.
    pub basis: &'a str,
}

fn range(min: f64, max: f64) -> String {
    if (min - max).abs() < f64::EPSILON {
        amount_text(min)
    } else {
        format!("{}–{}", amount_text(min), amount_text(max))
    }
}

impl Knowledge {
    fn subject_en(&self, subject: Subject) -> &str {
        match subject {
            Subject::Ingredient(i) => &self.ingredient(i).name_en,
            Subject::Class(c) => &self.class(c).name_en,
        }
    }

    /// Whether `id` names a rule of this knowledge base.
    pub fn has_rule(&self, id: &str) -> bool {
        self.doses.iter().any(|r| r.id == id)
            || self.cautions.iter().any(|r| r.id == id)
            || self.interactions.iter().any(|r| r.id == id)
            || self.duplicates.iter().any(|r| r.id == id)
            || self.indications.iter().any(|r| r.id == id)
            || self.cross_allergies.iter().any(|r| r.id == id)
    }

    /// Every rule, in the files' order by kind.
    pub fn rules(&self) -> Vec<RuleEntry<'_>> {
        let p = &self.params;
        let mut out = Vec::new();
        for r in &self.doses {
            let ing = self.ingredient(r.ingredient);
            let u = r.unit.symbol();
            let per = if r.per_kg { "/kg" } else { "" };
            let ages = match r.age_max_years {
                Some(max) => format!("{}–{}", amount_text(r.age_min_years), amount_text(max)),
                None => format!("≥{}", amount_text(r.age_min_years)),
            };
            out.push(RuleEntry {
                id: &r.id,
                kind: RuleKind::Dose,
                about_zh: format!("{} {} {ages} 岁", ing.name_zh, r.route.name_zh()),
                about_en: format!("{} {} {ages} years", ing.name_en, r.route.code()),
                grade: p.dose_over_max_grade,
                text_zh: format!(
                    "单次 {}{u}{per}，每日 {}{u}{per}，每日 {} 次",
                    range(r.dose_min, r.dose_max),
                    range(r.day_min, r.day_max),
                    range(f64::from(r.times_min), f64::from(r.times_max))
                ),
                text_en: format!(
                    "{} {u}{per} a dose, {} {u}{per} a day, {} times a day",
                    range(r.dose_min, r.dose_max),
                    range(r.day_min, r.day_max),
                    range(f64::from(r.times_min), f64::from(r.times_max))
                ),
                basis: self.citation(&r.source),
            });
        }
        for r in &self.cautions {
            let (zh, en) = match r.kind {
                CautionKind::Pregnancy => ("妊娠".to_owned(), "pregnancy".to_owned()),
                CautionKind::Lactation => ("哺乳".to_owned(), "breastfeeding".to_owned()),
                CautionKind::RenalBelow(n) => (
                    format!("eGFR < {}", amount_text(n)),
                    format!("eGFR < {}", amount_text(n)),
                ),
                CautionKind::HepaticFrom(h) => (
                    format!("{}及以上肝功能损害", h.name_zh()),
                    format!("hepatic impairment from {h:?}").to_lowercase(),
                ),
                CautionKind::AgeBelow(n) => (
                    format!("{} 岁以下", amount_text(n)),
                    format!("under {}", amount_text(n)),
                ),
                CautionKind::AgeFrom(n) => (
                    format!("{} 岁及以上", amount_text(n)),
                    format!("{} and over", amount_text(n)),
                ),
            };
            out.push(RuleEntry {
                id: &r.id,
                kind: RuleKind::Caution,
                about_zh: format!("{} · {zh}", self.subject_name_zh(r.subject)),
                about_en: format!("{} · {en}", self.subject_en(r.subject)),
                grade: r.grade,
                text_zh: r.message_zh.clone(),
                text_en: r.message_en.clone(),
                basis: self.citation(&r.source),
            });
        }
        for r in &self.interactions {
            out.push(RuleEntry {
                id: &r.id,
                kind: RuleKind::Interaction,
                about_zh: format!(
                    "{} + {}",
                    self.subject_name_zh(r.a),
                    self.subject_name_zh(r.b)
                ),
                about_en: format!("{} + {}", self.subject_en(r.a), self.subject_en(r.b)),
                grade: r.grade,
                text_zh: format!("{}。建议：{}", r.message_zh, r.advice_zh),
                text_en: format!("{}. Advice: {}", r.message_en, r.advice_en),
                basis: self.citation(&r.source),
            });
        }
        for r in &self.duplicates {
            out.push(RuleEntry {
                id: &r.id,
                kind: RuleKind::Duplicate,
                about_zh: self.class(r.class).name_zh.clone(),
                about_en: self.class(r.class).name_en.clone(),
                grade: r.grade,
                text_zh: r.message_zh.clone(),
                text_en: r.message_en.clone(),
                basis: self.citation(&r.source),
            });
        }
        for r in &self.indications {
            let codes = r.icd10_prefixes.join(", ");
            out.push(RuleEntry {
                id: &r.id,
                kind: RuleKind::Indication,
                about_zh: self.subject_name_zh(r.subject).to_owned(),
                about_en: self.subject_en(r.subject).to_owned(),
                grade: r.grade,
                text_zh: format!("适应症（ICD-10）：{codes}"),
                text_en: format!("indications (ICD-10): {codes}"),
                basis: self.citation(&r.source),
            });
        }
        for r in &self.cross_allergies {
            out.push(RuleEntry {
                id: &r.id,
                kind: RuleKind::CrossAllergy,
                about_zh: format!(
                    "{} → {}",
                    self.subject_name_zh(r.allergy),
                    self.class(r.class).name_zh
                ),
                about_en: format!(
                    "{} → {}",
                    self.subject_en(r.allergy),
                    self.class(r.class).name_en
                ),
                grade: r.grade,
                text_zh: r.message_zh.clone(),
                text_en: r.message_en.clone(),
                basis: self.citation(&r.source),
            });
        }
        out
    }
}
