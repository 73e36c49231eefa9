//! The prescription check's knowledge base (DOMAIN.md §4): ingredients and their
//! classes, usual doses, patient-state cautions, interactions, duplicate classes,
//! indications, cross-allergies and the policy parameters. It is data — the TSV files
//! under `data/pharmacy/`, each rule citing a source from `sources.tsv` — loaded and
//! checked as a whole: a reference to an unknown ingredient, class or source, a bad
//! number or an ingredient no indication covers is a problem named by file and line.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::tsv::TableProblem;

mod load;
mod rules;

use load::Loader;
pub use rules::{RuleEntry, RuleKind};

/// The PASS grade of a clinical finding (reference/pharmacy.md §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grade {
    /// 1 禁忌 (black): never; not even the doctor's second signature passes it.
    Contraindicated = 1,
    /// 2 不推荐 (red): the doctor may confirm with a second signature and a reason.
    NotRecommended = 2,
    /// 3 慎用 (orange).
    Caution = 3,
    /// 4 关注 (yellow).
    Note = 4,
}

impl Grade {
    pub fn number(self) -> u8 {
        self as u8
    }

    pub fn from_number(n: u8) -> Option<Grade> {
        [
            Grade::Contraindicated,
            Grade::NotRecommended,
            Grade::Caution,
            Grade::Note,
        ]
        .into_iter()
        .find(|g| g.number() == n)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Grade::Contraindicated => "禁忌",
            Grade::NotRecommended => "不推荐",
            Grade::Caution => "慎用",
            Grade::Note => "关注",
        }
    }
}

/// 麻醉/精神 and the other special-control lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    None,
    /// 麻醉药品
    Narcotic,
    /// 第一类精神药品
    Psych1,
    /// 第二类精神药品
    Psych2,
    /// 医疗用毒性药品
    Toxic,
    /// 放射性药品
    Radioactive,
    /// 易制毒药品
    Precursor,
}

impl Control {
    fn parse(code: &str) -> Option<Control> {
        Some(match code {
            "-" => Control::None,
            "narcotic" => Control::Narcotic,
            "psych1" => Control::Psych1,
            "psych2" => Control::Psych2,
            "toxic" => Control::Toxic,
            "radioactive" => Control::Radioactive,
            "precursor" => Control::Precursor,
            _ => return None,
        })
    }

    /// 麻醉 or 精神 (I or II): never online (DOMAIN.md §4).
    pub fn narcotic_or_psychotropic(self) -> bool {
        matches!(self, Control::Narcotic | Control::Psych1 | Control::Psych2)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Control::None => "普通药品",
            Control::Narcotic => "麻醉药品",
            Control::Psych1 => "第一类精神药品",
            Control::Psych2 => "第二类精神药品",
            Control::Toxic => "医疗用毒性药品",
            Control::Radioactive => "放射性药品",
            Control::Precursor => "易制毒药品",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Control::None => "not controlled",
            Control::Narcotic => "narcotic",
            Control::Psych1 => "class I psychotropic",
            Control::Psych2 => "class II psychotropic",
            Control::Toxic => "toxic drug for medical use",
            Control::Radioactive => "radioactive drug",
            Control::Precursor => "precursor chemical",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Antimicrobial {
    No,
    Yes,
    /// For tuberculosis or another chronic infection: allowed on a long prescription.
    Chronic,
}

/// Antimicrobial prescribing tiers (抗菌药物分级管理).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// 非限制使用级
    Unrestricted,
    /// 限制使用级
    Restricted,
    /// 特殊使用级
    Special,
}

/// A prescriber's professional title level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TitleLevel {
    /// 初级 (住院医师)
    Junior,
    /// 中级 (主治医师)
    Intermediate,
    /// 副高及以上
    Senior,
}

impl TitleLevel {
    pub fn parse(code: &str) -> Option<TitleLevel> {
        Some(match code {
            "junior" => TitleLevel::Junior,
            "intermediate" => TitleLevel::Intermediate,
            "senior" => TitleLevel::Senior,
            _ => return None,
        })
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            TitleLevel::Junior => "初级",
            TitleLevel::Intermediate => "中级",
            TitleLevel::Senior => "副高级及以上",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Oral,
    Iv,
    Im,
    Sc,
    Inhaled,
    Topical,
}

impl Route {
    pub const ALL: [Route; 6] = [
        Route::Oral,
        Route::Iv,
        Route::Im,
        Route::Sc,
        Route::Inhaled,
        Route::Topical,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Route::Oral => "oral",
            Route::Iv => "iv",
            Route::Im => "im",
            Route::Sc => "sc",
            Route::Inhaled => "inhaled",
            Route::Topical => "topical",
        }
    }

    pub fn parse(code: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|r| r.code() == code)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Route::Oral => "口服",
            Route::Iv => "静脉",
            Route::Im => "肌内注射",
            Route::Sc => "皮下注射",
            Route::Inhaled => "吸入",
            Route::Topical => "外用",
        }
    }
}

/// A dose unit: a mass or international units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoseUnit {
    G,
    Mg,
    Ug,
    Iu,
}

impl DoseUnit {
    /// Parses the spellings a prescriber uses (g, mg, μg/ug/mcg, IU/U/单位).
    pub fn parse(text: &str) -> Option<DoseUnit> {
        Some(match text.trim() {
            "g" | "克" => DoseUnit::G,
            "mg" | "毫克" => DoseUnit::Mg,
            "ug" | "μg" | "µg" | "mcg" | "微克" => DoseUnit::Ug,
            "IU" | "iu" | "U" | "u" | "单位" => DoseUnit::Iu,
            _ => return None,
        })
    }

    pub fn symbol(self) -> &'static str {
        match self {
            DoseUnit::G => "g",
            DoseUnit::Mg => "mg",
            DoseUnit::Ug => "μg",
            DoseUnit::Iu => "IU",
        }
    }

    /// The amount in `to`, when the two measure the same thing.
    pub fn convert(self, amount: f64, to: DoseUnit) -> Option<f64> {
        let micrograms = |u: DoseUnit| match u {
            DoseUnit::G => Some(1_000_000.0),
            DoseUnit::Mg => Some(1_000.0),
            DoseUnit::Ug => Some(1.0),
            DoseUnit::Iu => None,
        };
        match (micrograms(self), micrograms(to)) {
            (Some(a), Some(b)) => Some(amount * a / b),
            (None, None) => Some(amount),
            _ => None,
        }
    }

    /// The units a line may be written in for a knowledge base in this unit.
    pub fn accepted_zh(self) -> &'static str {
        match self {
            DoseUnit::Iu => "IU（单位）",
            _ => "g、mg 或 μg",
        }
    }
}

/// Degree of hepatic impairment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hepatic {
    None,
    Mild,
    Moderate,
    Severe,
}

impl Hepatic {
    pub fn parse(code: &str) -> Option<Hepatic> {
        Some(match code {
            "none" => Hepatic::None,
            "mild" => Hepatic::Mild,
            "moderate" => Hepatic::Moderate,
            "severe" => Hepatic::Severe,
            _ => return None,
        })
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Hepatic::None => "无",
            Hepatic::Mild => "轻度",
            Hepatic::Moderate => "中度",
            Hepatic::Severe => "重度",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IngredientId(pub u16);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClassId(pub u16);

/// What a rule is about: one ingredient, or every member of a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Ingredient(IngredientId),
    Class(ClassId),
}

#[derive(Debug)]
pub struct DrugClass {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub parent: Option<ClassId>,
}

#[derive(Debug)]
pub struct Ingredient {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// Its classes and all their ancestors.
    pub classes: Vec<ClassId>,
    pub control: Control,
    pub antimicrobial: Antimicrobial,
    pub tier: Option<Tier>,
    pub special_storage: bool,
    pub source: String,
}

#[derive(Debug)]
pub struct DoseRule {
    pub id: String,
    pub ingredient: IngredientId,
    pub route: Route,
    pub age_min_years: f64,
    pub age_max_years: Option<f64>,
    /// Amounts are per kg of body weight; `day_cap` is then the absolute daily maximum.
    pub per_kg: bool,
    pub unit: DoseUnit,
    pub dose_min: f64,
    pub dose_max: f64,
    pub day_min: f64,
    pub day_max: f64,
    pub day_cap: Option<f64>,
    pub times_min: u32,
    pub times_max: u32,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CautionKind {
    Pregnancy,
    Lactation,
    /// Applies when eGFR is below this (mL/min/1.73 m²).
    RenalBelow(f64),
    /// Applies from this degree of impairment.
    HepaticFrom(Hepatic),
    AgeBelow(f64),
    AgeFrom(f64),
}

#[derive(Debug)]
pub struct CautionRule {
    pub id: String,
    pub subject: Subject,
    pub kind: CautionKind,
    pub grade: Grade,
    pub message_zh: String,
    pub message_en: String,
    pub source: String,
}

#[derive(Debug)]
pub struct InteractionRule {
    pub id: String,
    pub a: Subject,
    pub b: Subject,
    pub grade: Grade,
    pub message_zh: String,
    pub message_en: String,
    pub advice_zh: String,
    pub advice_en: String,
    pub source: String,
}

#[derive(Debug)]
pub struct DuplicateRule {
    pub id: String,
    pub class: ClassId,
    pub grade: Grade,
    pub message_zh: String,
    pub message_en: String,
    pub source: String,
}

#[derive(Debug)]
pub struct IndicationRule {
    pub id: String,
    pub subject: Subject,
    /// ICD-10 code prefixes, upper case.
    pub icd10_prefixes: Vec<String>,
    /// The grade of `indication_mismatch` for a drug this rule covers.
    pub grade: Grade,
    pub source: String,
}

#[derive(Debug)]
pub struct CrossAllergyRule {
    pub id: String,
    pub allergy: Subject,
    pub class: ClassId,
    pub grade: Grade,
    pub message_zh: String,
    pub message_en: String,
    pub source: String,
}

/// The policy parameters (`params.tsv`).
#[derive(Debug, Clone)]
pub struct RxParams {
    pub validity_days_max: u32,
    pub supply_days_max: u32,
    pub supply_days_max_emergency: u32,
    pub long_supply_days_plain_max: u32,
    pub long_supply_days_max: u32,
    pub lines_max: usize,
    pub online_practice_years_min: u32,
    pub online_child_age_years_min: f64,
    /// How long the online clinic stays open after the doctor's real-name check (NET-3).
    pub online_clinic_hours: u32,
    /// Years an online visit's record is kept, and its messages and images (NET-7).
    pub online_record_years: u32,
    pub online_chat_years: u32,
    /// A delivery is on time when delivered within these hours of dispensing.
    pub delivery_on_time_hours: u32,
    pub long_first_title_min: TitleLevel,
    pub tier_restricted_title_min: TitleLevel,
    pub tier_special_title_min: TitleLevel,
    pub allergy_grade: Grade,
    pub duplicate_ingredient_grade: Grade,
    pub dose_over_max_grade: Grade,
    pub dose_under_min_grade: Grade,
    pub frequency_grade: Grade,
    /// Years of dispensing a pharmacist needs to review prescriptions.
    pub reviewer_years_min: u32,
    /// The source id of each parameter, for a finding's basis.
    pub sources: HashMap<String, String>,
}

/// How the (demo) insurance list classes a product (医保类别): 甲 is paid inside the
/// policy's share, 乙 after the patient's own first share, 自费 by the patient alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsuranceClass {
    A,
    B,
    SelfPay,
}

impl InsuranceClass {
    pub fn parse(text: &str) -> Option<InsuranceClass> {
        match text {
            "甲" => Some(InsuranceClass::A),
            "乙" => Some(InsuranceClass::B),
            "自费" => Some(InsuranceClass::SelfPay),
            _ => None,
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            InsuranceClass::A => "甲",
            InsuranceClass::B => "乙",
            InsuranceClass::SelfPay => "自费",
        }
    }
}

/// A product pharmacies stock and dispense (`products.tsv`): an ingredient in a dosage
/// form and strength, so many units to a pack.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    pub code: String,
    pub ingredient: IngredientId,
    pub name_zh: String,
    pub form: String,
    /// The amount of the ingredient in one unit (tablet, capsule, puff, pen).
    pub strength: f64,
    pub unit: DoseUnit,
    pub pack_size: u32,
    pub pack_unit: String,
    pub route: Route,
    pub insurance_class: InsuranceClass,
    /// One pack's price in fen (demo values, `price_source`).
    pub price_fen: i64,
    pub source: String,
}

impl Product {
    /// Whether one unit serves many doses (an insulin pen, an inhaler), rather than
    /// whole units a dose (tablets, capsules, single-use ampoules).
    pub fn multi_dose(&self) -> bool {
        matches!(self.form.as_str(), "pen" | "inhaler")
    }

    /// Packs that supply `dose` (in `unit`) `times_per_day` for `days`, when the units
    /// measure the same thing; at least one. Whole units a dose unless the unit is
    /// multi-dose.
    pub fn packs_for(
        &self,
        dose: f64,
        unit: DoseUnit,
        times_per_day: u32,
        days: u32,
    ) -> Option<u32> {
        let per_dose = unit.convert(dose, self.unit)? / self.strength;
        let per_dose = if self.multi_dose() {
            per_dose
        } else {
            (per_dose - 1e-9).ceil()
        };
        let units = per_dose * f64::from(times_per_day) * f64::from(days);
        let packs = (units / f64::from(self.pack_size) - 1e-9).ceil().max(1.0);
        (packs.is_finite() && packs <= f64::from(u32::MAX)).then_some(packs as u32)
    }
}

/// The loaded knowledge base.
#[derive(Debug)]
pub struct Knowledge {
    pub version: String,
    pub params: RxParams,
    sources: HashMap<String, String>,
    pub classes: Vec<DrugClass>,
    pub ingredients: Vec<Ingredient>,
    pub doses: Vec<DoseRule>,
    pub cautions: Vec<CautionRule>,
    pub interactions: Vec<InteractionRule>,
    pub duplicates: Vec<DuplicateRule>,
    pub indications: Vec<IndicationRule>,
    pub cross_allergies: Vec<CrossAllergyRule>,
    ingredient_names: HashMap<String, IngredientId>,
    class_names: HashMap<String, ClassId>,
    /// 职称 → (level, an assistant physician's title).
    titles: HashMap<String, (TitleLevel, bool)>,
    /// The titles whose holders review prescriptions (药师 and above).
    reviewer_titles: std::collections::HashSet<String>,
    /// The formulary's products.
    pub products: Vec<Product>,
}

/// The files of a knowledge base, by name.
#[derive(Debug, Clone, Copy)]
pub struct KnowledgeFiles<'a> {
    pub sources: &'a str,
    pub classes: &'a str,
    pub ingredients: &'a str,
    pub doses: &'a str,
    pub cautions: &'a str,
    pub interactions: &'a str,
    pub duplicates: &'a str,
    pub indications: &'a str,
    pub allergy_cross: &'a str,
    pub params: &'a str,
    pub titles: &'a str,
    pub products: &'a str,
}

/// The knowledge base shipped with Gongti (`data/pharmacy/`).
pub const BUILTIN: KnowledgeFiles<'static> = KnowledgeFiles {
    sources: include_str!("../../../data/pharmacy/sources.tsv"),
    classes: include_str!("../../../data/pharmacy/classes.tsv"),
    ingredients: include_str!("../../../data/pharmacy/ingredients.tsv"),
    doses: include_str!("../../../data/pharmacy/doses.tsv"),
    cautions: include_str!("../../../data/pharmacy/cautions.tsv"),
    interactions: include_str!("../../../data/pharmacy/interactions.tsv"),
    duplicates: include_str!("../../../data/pharmacy/duplicates.tsv"),
    indications: include_str!("../../../data/pharmacy/indications.tsv"),
    allergy_cross: include_str!("../../../data/pharmacy/allergy_cross.tsv"),
    params: include_str!("../../../data/pharmacy/params.tsv"),
    titles: include_str!("../../../data/pharmacy/titles.tsv"),
    products: include_str!("../../../data/pharmacy/products.tsv"),
};

/// Words of a dosage form a prescriber may leave on a generic name (苯磺酸氨氯地平片);
/// the longest is tried first.
const FORM_SUFFIXES: [&str; 16] = [
    "肠溶胶囊",
    "吸入气雾剂",
    "注射液",
    "缓释片",
    "控释片",
    "肠溶片",
    "咀嚼片",
    "分散片",
    "气雾剂",
    "胶囊",
    "颗粒",
    "口服液",
    "注射剂",
    "针",
    "片",
    "丸",
];

/// A number as a prescriber writes it (2.5, 10, 0.625): at most three decimals, no
/// trailing zeros.
pub fn amount_text(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Normalises a drug or class name for lookup: trimmed, ASCII lower case, without
/// inner spaces.
fn name_key(name: &str) -> String {
    name.trim()
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl Knowledge {
    /// The shipped knowledge base, loaded once. Its files are part of the build, so a
    /// problem in them is a build defect: the test suite loads them and fails.
    pub fn builtin() -> &'static Knowledge {
        static KB: OnceLock<Knowledge> = OnceLock::new();
        KB.get_or_init(|| match Knowledge::load(BUILTIN) {
            Ok(kb) => kb,
            Err(problems) => panic!(
                "the shipped prescription knowledge base is invalid:\n{}",
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        })
    }

    pub fn ingredient(&self, id: IngredientId) -> &Ingredient {
        &self.ingredients[usize::from(id.0)]
    }

    pub fn class(&self, id: ClassId) -> &DrugClass {
        &self.classes[usize::from(id.0)]
    }

    /// The ingredient a prescriber's or record's drug name means: its generic name,
    /// English name or an alias (a salt, a brand-free product name), with or without
    /// a dosage-form word.
    pub fn find_ingredient(&self, name: &str) -> Option<IngredientId> {
        let key = name_key(name);
        if let Some(id) = self.ingredient_names.get(&key) {
            return Some(*id);
        }
        FORM_SUFFIXES
            .iter()
            .filter_map(|suffix| key.strip_suffix(suffix))
            .find_map(|stem| self.ingredient_names.get(stem).copied())
    }

    /// The class a record's word names (头孢, 青霉素类, sulfa).
    pub fn find_class(&self, name: &str) -> Option<ClassId> {
        self.class_names.get(&name_key(name)).copied()
    }

    /// The level of a title as the staff register writes it (主治医师 → intermediate),
    /// and whether it is an assistant physician's.
    pub fn title(&self, title: &str) -> Option<(TitleLevel, bool)> {
        self.titles.get(title.trim()).copied()
    }

    pub fn product(&self, code: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.code == code)
    }

    /// The products of an ingredient (in the order of `products.tsv`).
    pub fn products_of(&self, ingredient: IngredientId) -> impl Iterator<Item = &Product> {
        self.products
            .iter()
            .filter(move |p| p.ingredient == ingredient)
    }

    /// Whether a pharmacist with `title` and `dispensing_years` may review
    /// prescriptions (DOMAIN.md §4: 药师 or above, ≥ 3 years of dispensing, param).
    pub fn may_review(&self, title: Option<&str>, dispensing_years: u32) -> bool {
        title.is_some_and(|t| self.reviewer_titles.contains(t.trim()))
            && dispensing_years >= self.params.reviewer_years_min
    }

    /// Whether `subject` covers `ingredient`.
    pub fn covers(&self, subject: Subject, ingredient: IngredientId) -> bool {
        match subject {
            Subject::Ingredient(i) => i == ingredient,
            Subject::Class(c) => self.ingredient(ingredient).classes.contains(&c),
        }
    }

    pub fn subject_name_zh(&self, subject: Subject) -> &str {
        match subject {
            Subject::Ingredient(i) => &self.ingredient(i).name_zh,
            Subject::Class(c) => &self.class(c).name_zh,
        }
    }

    /// The citation of a source id.
    pub fn citation<'a>(&'a self, source: &'a str) -> &'a str {
        self.sources.get(source).map_or(source, String::as_str)
    }

    /// Loads and checks a knowledge base, collecting every problem.
    pub fn load(files: KnowledgeFiles<'_>) -> Result<Knowledge, Vec<TableProblem>> {
        let mut loader = Loader::default();
        let kb = loader.load(files);
        match kb {
            Some(kb) if loader.problems.is_empty() => Ok(kb),
            _ => Err(loader.problems),
        }
    }
}
