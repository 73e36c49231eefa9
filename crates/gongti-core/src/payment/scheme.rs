//! A payment scheme's parameters (DOMAIN.md §5–§6, issue 17): the per-head rate of
//! each capitation scheme, the risk weights by age band and chronic condition, the
//! prepayment share, the quality bands and the weights of the assessment's terms, the
//! surplus cap and the overspend share, the contract fee's split by payer and the
//! team's share, the workload-unit table and the post coefficients.
//!
//! A version of the scheme is kept as text, one parameter per line, `name<TAB>value`,
//! in a canonical order ([`Scheme::text`]); [`Scheme::parse`] reads it back — or reads
//! what an officer typed — and names every problem at once. Names are dotted:
//! `rate_fen.contracted`, `weight.65.hypertension` (the band from age 65),
//! `quality_band.80` (from score 80), `quality_weight.bp_control`,
//! `contract_fee_fen.insurance`, `work_units.followup_hypertension`,
//! `post_coefficient.family_doctor`.

use std::collections::BTreeMap;

use crate::decimal::{scaled, shown};
use crate::payment::capitation::{
    Clearing, MULTIPLIER_MAX, PLACES, RATE_FEN_MAX, SCORE_MAX, UNIT, WEIGHT_MAX, multiplier, settle,
};
use crate::payment::incentive;
use crate::problem::{FieldProblem, Problem};
use crate::role::Role;

/// The oldest age a band may start at.
pub const AGE_MAX: u32 = 120;
/// Most age bands and quality bands.
pub const BANDS_MAX: usize = 20;
/// The contract fee's most per payer (10,000 yuan).
pub const CONTRACT_FEE_FEN_MAX: i64 = 1_000_000;
/// The team's least share of the contract fee (DOMAIN.md §6: ≥ 70 %).
pub const TEAM_SHARE_MIN: i128 = 700_000;
/// A text's most lines and bytes.
pub const LINES_MAX: usize = 1_000;
pub const TEXT_MAX_BYTES: usize = 64 * 1024;

closed_set! {
    /// A capitation scheme: who is paid for by head.
    SchemeKind {
        Contracted = "contracted", "家庭医生签约居民", "contracted residents";
        MtHypertension = "mt_hypertension", "门特高血压", "门特 hypertension";
        MtDiabetes = "mt_diabetes", "门特糖尿病", "门特 diabetes";
    }
}

closed_set! {
    /// A person's chronic condition for the risk weight.
    Condition {
        None = "none", "无高血压糖尿病", "neither";
        Hypertension = "hypertension", "高血压", "hypertension";
        Diabetes = "diabetes", "糖尿病", "diabetes";
        Both = "both", "高血压合并糖尿病", "both";
    }
}

closed_set! {
    /// A term of the quality assessment (DOMAIN.md §2 indicators, contracts, referral).
    QualityTerm {
        Standardised = "standardised_management", "规范管理率", "standardised management";
        BpControl = "bp_control", "血压控制率", "BP control";
        GlucoseControl = "glucose_control", "血糖控制率", "glucose control";
        Hba1cTarget = "hba1c_target", "糖化血红蛋白达标率", "HbA1c on target";
        ContractCoverage = "contract_coverage", "签约率", "contract coverage";
        FollowupTimely = "followup_timely", "随访及时率", "follow-ups on time";
        ReferralReturn = "referral_return", "转诊回转率", "referrals returned";
    }
}

closed_set! {
    /// Who pays a share of the family-doctor contract fee.
    Payer {
        Insurance = "insurance", "医保基金", "insurance fund";
        PublicHealth = "public_health", "公共卫生经费", "public-health funds";
        Resident = "resident", "居民个人", "resident";
    }
}

closed_set! {
    /// A kind of work counted in standard workload units (标准工作量).
    WorkKind {
        FollowupHypertension = "followup_hypertension", "高血压随访", "hypertension follow-up";
        FollowupDiabetes = "followup_diabetes", "糖尿病随访", "diabetes follow-up";
        ResidentRegistered = "resident_registered", "新建健康档案", "new health record";
        ContractSigned = "contract_signed", "签约（含续约）", "contract signed or renewed";
        ReferralSent = "referral_sent", "转诊", "referral";
        OnlineVisit = "online_visit", "在线复诊", "online repeat visit";
        PrescriptionReviewed = "prescription_reviewed", "处方审核", "prescription review";
        ExamReportSigned = "exam_report_signed", "检查报告签发", "exam report signed";
    }
}

/// The posts that earn from the pool, with a coefficient each (岗位系数).
pub const POSTS: [Role; 7] = [
    Role::FamilyDoctor,
    Role::Nurse,
    Role::PublicHealthDoctor,
    Role::Pharmacist,
    Role::HealthManager,
    Role::Specialist,
    Role::ExamReader,
];

/// A scheme's parameters, checked. Shares, weights, scores and multipliers are counts
/// of millionths (`capitation::PLACES`); work units and post coefficients counts of
/// ten-thousandths (`incentive::PLACES`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheme {
    /// Per head and year, by [`SchemeKind`].
    pub rates_fen: [i64; 3],
    /// Age bands ascending from 0: the band's first age and its weight by
    /// [`Condition`].
    pub weights: Vec<(u32, [i128; 4])>,
    pub prepay_share: i128,
    /// Quality bands ascending: the least score and its multiplier; the first from 0.
    pub quality_bands: Vec<(i128, i128)>,
    /// By [`QualityTerm`]; they sum to 1.
    pub quality_weights: [i128; 7],
    pub surplus_cap_share: Option<i128>,
    pub overspend_share: i128,
    /// The fund's share of a cloud-centre exam's fee (its cost under capitation).
    pub exam_fund_share: i128,
    /// The basic package's fee per person and year, by [`Payer`].
    pub contract_fee_fen: [i64; 3],
    pub team_share: i128,
    pub contracts_per_doctor_max: i64,
    /// By [`WorkKind`].
    pub work_units: [i128; 8],
    /// By [`POSTS`].
    pub post_coefficients: [i128; 7],
}

/// A line's name, split: the parameter and its key.
fn split(name: &str) -> (&str, &str) {
    name.split_once('.').unwrap_or((name, ""))
}

fn post_index(code: &str) -> Option<usize> {
    POSTS.iter().position(|r| r.code() == code)
}

struct Reader {
    problems: Vec<FieldProblem>,
}

impl Reader {
    fn push(&mut self, field: &'static str, problem: Problem) {
        let p = FieldProblem::new(field, problem);
        if !self.problems.contains(&p) {
            self.problems.push(p);
        }
    }

    fn decimal(
        &mut self,
        field: &'static str,
        value: &str,
        places: u32,
        max: i128,
        max_text: &'static str,
    ) -> Option<i128> {
        let v = scaled(value, places).filter(|v| (0..=max).contains(v));
        if v.is_none() {
            self.push(
                field,
                Problem::OutOfRange {
                    min: "0",
                    max: max_text,
                },
            );
        }
        v
    }

    fn fen(
        &mut self,
        field: &'static str,
        value: &str,
        max: i64,
        max_text: &'static str,
    ) -> Option<i64> {
        let v = value
            .parse::<i64>()
            .ok()
            .filter(|v| (0..=max).contains(v) && !value.starts_with('+'));
        if v.is_none() {
            self.push(
                field,
                Problem::OutOfRange {
                    min: "0",
                    max: max_text,
                },
            );
        }
        v
    }
}

fn filled<T: Copy + Default, const N: usize>(
    values: &[Option<T>; N],
    field: &'static str,
    r: &mut Reader,
) -> [T; N] {
    let value_refused = r
        .problems
        .iter()
        .any(|p| p.field == field && p.problem != Problem::UnknownCode);
    if values.iter().any(Option::is_none) && !value_refused {
        r.push(field, Problem::Required);
    }
    values.map(|v| v.unwrap_or_default())
}

impl Scheme {
    /// Reads a scheme from its text (or from what an officer typed, one `name<TAB>value`
    /// per line; blank lines and `#` comments skipped), naming every problem: an
    /// unknown or repeated name, a value out of its range, a parameter missing, weights
    /// of the quality terms that do not sum to 1, bands without one from 0, a team share
    /// under 70 %.
    pub fn parse(text: &str) -> Result<Scheme, Vec<FieldProblem>> {
        let mut r = Reader {
            problems: Vec::new(),
        };
        if text.len() > TEXT_MAX_BYTES || text.lines().count() > LINES_MAX {
            r.push(
                "params",
                Problem::TooLong {
                    max_chars: TEXT_MAX_BYTES,
                },
            );
            return Err(r.problems);
        }
        let mut seen = BTreeMap::new();
        let mut rates = [None; 3];
        let mut weights: BTreeMap<u32, [Option<i128>; 4]> = BTreeMap::new();
        let mut prepay_share = None;
        let mut bands: BTreeMap<i128, i128> = BTreeMap::new();
        let mut quality_weights = [None; 7];
        let mut cap: Option<Option<i128>> = None;
        let mut overspend_share = None;
        let mut exam_fund_share = None;
        let mut fees = [None; 3];
        let mut team_share = None;
        let mut contracts_max = None;
        let mut units = [None; 8];
        let mut posts = [None; 7];
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, value)) = line.split_once('\t') else {
                r.push("params", Problem::Malformed);
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            if seen.insert(name.to_owned(), ()).is_some() {
                r.push("params", Problem::Inconsistent { with: "params" });
                continue;
            }
            let (param, key) = split(name);
            match param {
                "rate_fen" => match SchemeKind::parse(key) {
                    Some(k) => {
                        rates[k.index()] = r.fen("rate_fen", value, RATE_FEN_MAX, "100000000")
                    }
                    None => r.push("rate_fen", Problem::UnknownCode),
                },
                "weight" => {
                    let (age, condition) = split(key);
                    let age = age
                        .parse::<u32>()
                        .ok()
                        .filter(|a| *a <= AGE_MAX && !age.starts_with('+'));
                    match (age, Condition::parse(condition)) {
                        (Some(age), Some(c)) => {
                            let w = r.decimal("weight", value, PLACES, WEIGHT_MAX, "100");
                            let cell = &mut weights.entry(age).or_insert([None; 4])[c.index()];
                            if cell.is_some() {
                                // the same band written twice (`65` and `065`)
                                r.push("params", Problem::Inconsistent { with: "params" });
                            }
                            *cell = w.or(Some(0));
                        }
                        _ => r.push("weight", Problem::UnknownCode),
                    }
                }
                "prepay_share" if key.is_empty() => {
                    prepay_share = r.decimal("prepay_share", value, PLACES, UNIT, "1");
                }
                "quality_band" => {
                    let min = scaled(key, PLACES).filter(|m| (0..=SCORE_MAX).contains(m));
                    let m = r.decimal("quality_band", value, PLACES, MULTIPLIER_MAX, "10");
                    match (min, m) {
                        // the same least score twice (`80` and `80.0`)
                        (Some(min), Some(m)) if bands.insert(min, m).is_some() => {
                            r.push("params", Problem::Inconsistent { with: "params" });
                        }
                        (None, _) => r.push(
                            "quality_band",
                            Problem::OutOfRange {
                                min: "0",
                                max: "100",
                            },
                        ),
                        _ => {}
                    }
                }
                "quality_weight" => match QualityTerm::parse(key) {
                    Some(t) => {
                        quality_weights[t.index()] =
                            r.decimal("quality_weight", value, PLACES, UNIT, "1");
                    }
                    None => r.push("quality_weight", Problem::UnknownCode),
                },
                "surplus_cap_share" if key.is_empty() => {
                    cap = Some(if value == "none" {
                        None
                    } else {
                        r.decimal("surplus_cap_share", value, PLACES, UNIT, "1")
                    });
                }
                "overspend_share" if key.is_empty() => {
                    overspend_share = r.decimal("overspend_share", value, PLACES, UNIT, "1");
                }
                "exam_fund_share" if key.is_empty() => {
                    exam_fund_share = r.decimal("exam_fund_share", value, PLACES, UNIT, "1");
                }
                "contract_fee_fen" => match Payer::parse(key) {
                    Some(p) => {
                        fees[p.index()] =
                            r.fen("contract_fee_fen", value, CONTRACT_FEE_FEN_MAX, "1000000");
                    }
                    None => r.push("contract_fee_fen", Problem::UnknownCode),
                },
                "team_share" if key.is_empty() => {
                    team_share = r.decimal("team_share", value, PLACES, UNIT, "1");
                    if team_share.is_some_and(|s| s < TEAM_SHARE_MIN) {
                        r.push(
                            "team_share",
                            Problem::OutOfRange {
                                min: "0.7",
                                max: "1",
                            },
                        );
                    }
                }
                "contracts_per_doctor_max" if key.is_empty() => {
                    contracts_max = r.fen("contracts_per_doctor_max", value, 100_000, "100000");
                }
                "work_units" => match WorkKind::parse(key) {
                    Some(k) => {
                        units[k.index()] =
                            r.decimal("work_units", value, incentive::PLACES, 100 * 10_000, "100");
                    }
                    None => r.push("work_units", Problem::UnknownCode),
                },
                "post_coefficient" => match post_index(key) {
                    Some(i) => {
                        posts[i] = r.decimal(
                            "post_coefficient",
                            value,
                            incentive::PLACES,
                            10 * 10_000,
                            "10",
                        );
                    }
                    None => r.push("post_coefficient", Problem::UnknownCode),
                },
                _ => r.push("params", Problem::UnknownCode),
            }
        }
        let rates_fen = filled(&rates, "rate_fen", &mut r);
        let quality_weights = filled(&quality_weights, "quality_weight", &mut r);
        let contract_fee_fen = filled(&fees, "contract_fee_fen", &mut r);
        let work_units = filled(&units, "work_units", &mut r);
        let post_coefficients = filled(&posts, "post_coefficient", &mut r);
        let mut weight_rows = Vec::new();
        for (age, row) in &weights {
            weight_rows.push((*age, filled(row, "weight", &mut r)));
        }
        if weight_rows.first().is_none_or(|(age, _)| *age != 0) {
            r.push("weight", Problem::Required);
        }
        if weight_rows.len() > BANDS_MAX {
            r.push(
                "weight",
                Problem::OutOfRange {
                    min: "1",
                    max: "20",
                },
            );
        }
        let quality_bands: Vec<(i128, i128)> = bands.into_iter().collect();
        if quality_bands.len() > BANDS_MAX {
            r.push(
                "quality_band",
                Problem::OutOfRange {
                    min: "1",
                    max: "20",
                },
            );
        }
        if quality_bands.first().is_none_or(|(min, _)| *min != 0) {
            r.push("quality_band", Problem::Required);
        }
        if quality_weights.iter().sum::<i128>() != UNIT
            && !r.problems.iter().any(|p| p.field == "quality_weight")
        {
            r.push(
                "quality_weight",
                Problem::Inconsistent {
                    with: "quality_weight",
                },
            );
        }
        for (field, v) in [
            ("prepay_share", prepay_share.is_some()),
            ("overspend_share", overspend_share.is_some()),
            ("exam_fund_share", exam_fund_share.is_some()),
            ("team_share", team_share.is_some()),
            ("contracts_per_doctor_max", contracts_max.is_some()),
            ("surplus_cap_share", cap.is_some()),
        ] {
            if !v && !r.problems.iter().any(|p| p.field == field) {
                r.push(field, Problem::Required);
            }
        }
        if !r.problems.is_empty() {
            return Err(r.problems);
        }
        Ok(Scheme {
            rates_fen,
            weights: weight_rows,
            prepay_share: prepay_share.unwrap_or_default(),
            quality_bands,
            quality_weights,
            surplus_cap_share: cap.flatten(),
            overspend_share: overspend_share.unwrap_or_default(),
            exam_fund_share: exam_fund_share.unwrap_or_default(),
            contract_fee_fen,
            team_share: team_share.unwrap_or_default(),
            contracts_per_doctor_max: contracts_max.unwrap_or_default(),
            work_units,
            post_coefficients,
        })
    }

    /// The canonical text: every parameter once, in a fixed order, each decimal in its
    /// shortest form — what a version stores and what [`Scheme::parse`] reads back.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut line = |name: String, value: String| {
            out.push_str(&name);
            out.push('\t');
            out.push_str(&value);
            out.push('\n');
        };
        for k in SchemeKind::ALL {
            line(
                format!("rate_fen.{}", k.code()),
                self.rates_fen[k.index()].to_string(),
            );
        }
        for (age, row) in &self.weights {
            for c in Condition::ALL {
                line(
                    format!("weight.{age}.{}", c.code()),
                    shown(row[c.index()], PLACES),
                );
            }
        }
        line("prepay_share".into(), shown(self.prepay_share, PLACES));
        for (min, m) in &self.quality_bands {
            line(
                format!("quality_band.{}", shown(*min, PLACES)),
                shown(*m, PLACES),
            );
        }
        for t in QualityTerm::ALL {
            line(
                format!("quality_weight.{}", t.code()),
                shown(self.quality_weights[t.index()], PLACES),
            );
        }
        line(
            "surplus_cap_share".into(),
            self.surplus_cap_share
                .map_or_else(|| "none".into(), |c| shown(c, PLACES)),
        );
        line(
            "overspend_share".into(),
            shown(self.overspend_share, PLACES),
        );
        line(
            "exam_fund_share".into(),
            shown(self.exam_fund_share, PLACES),
        );
        for p in Payer::ALL {
            line(
                format!("contract_fee_fen.{}", p.code()),
                self.contract_fee_fen[p.index()].to_string(),
            );
        }
        line("team_share".into(), shown(self.team_share, PLACES));
        line(
            "contracts_per_doctor_max".into(),
            self.contracts_per_doctor_max.to_string(),
        );
        for k in WorkKind::ALL {
            line(
                format!("work_units.{}", k.code()),
                shown(self.work_units[k.index()], incentive::PLACES),
            );
        }
        for (i, r) in POSTS.iter().enumerate() {
            line(
                format!("post_coefficient.{}", r.code()),
                shown(self.post_coefficients[i], incentive::PLACES),
            );
        }
        out
    }

    pub fn rate_fen(&self, kind: SchemeKind) -> i64 {
        self.rates_fen[kind.index()]
    }

    /// The risk weight of a person of `age` years with `condition`: the band with the
    /// highest first age not above `age`.
    pub fn weight(&self, age: u32, condition: Condition) -> i128 {
        self.weights
            .iter()
            .rev()
            .find(|(from, _)| *from <= age)
            .map_or(0, |(_, row)| row[condition.index()])
    }

    /// m(Q) for a score in millionths (every score has one: a band starts at 0).
    pub fn multiplier(&self, score: i128) -> i128 {
        multiplier(score, &self.quality_bands).unwrap_or(UNIT)
    }

    pub fn quality_weight(&self, term: QualityTerm) -> i128 {
        self.quality_weights[term.index()]
    }

    pub fn contract_fee_fen(&self, payer: Payer) -> i64 {
        self.contract_fee_fen[payer.index()]
    }

    pub fn work_units(&self, kind: WorkKind) -> i128 {
        self.work_units[kind.index()]
    }

    /// The post coefficient of a role; `None` for a role that earns no units.
    pub fn post_coefficient(&self, role: Role) -> Option<i128> {
        post_index(role.code()).map(|i| self.post_coefficients[i])
    }
}

/// Persons alike under one capitation scheme: their age, condition and days enrolled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub kind: SchemeKind,
    pub age: u32,
    pub condition: Condition,
    pub days: i64,
    pub count: i64,
}

impl Scheme {
    /// `B = Σ rate[scheme] × weight(age band, condition) × days ÷ days in year`, summed
    /// exactly and rounded half up to the fen once (DOMAIN.md §6); days outside
    /// `0..=days_in_year` and negative counts count as none.
    pub fn budget_fen(&self, members: &[Member], days_in_year: i64) -> i64 {
        let days_in_year = days_in_year.max(1);
        let numerator: i128 = members
            .iter()
            .map(|m| {
                self.share(m.kind, m.age, m.condition, m.days.clamp(0, days_in_year))
                    * i128::from(m.count.max(0))
            })
            .sum();
        budget_of(numerator, days_in_year)
    }

    /// One person's part of B before the division by the year's days, in millionths of
    /// a fen: `rate × weight × days`.
    pub fn share(&self, kind: SchemeKind, age: u32, condition: Condition, days: i64) -> i128 {
        i128::from(self.rate_fen(kind)) * self.weight(age, condition) * i128::from(days)
    }

    /// The year's figures of a budget under this scheme, for a quality score (in
    /// millionths) and the fund-paid cost (DOMAIN.md §6).
    pub fn clearing(&self, budget_fen: i64, quality_score: i128, actual_cost_fen: i64) -> Clearing {
        settle(
            i128::from(budget_fen),
            self.prepay_share,
            self.multiplier(quality_score),
            actual_cost_fen,
            self.surplus_cap_share,
            self.overspend_share,
        )
    }
}

/// B in fen from the sum of members' [`Scheme::share`]s: divided by the year's days and
/// rounded half up once.
pub fn budget_of(numerator: i128, days_in_year: i64) -> i64 {
    let b = crate::decimal::div_half_up(numerator.max(0), UNIT * i128::from(days_in_year.max(1)));
    i64::try_from(b).unwrap_or(i64::MAX)
}

/// The demonstration scheme shipped with Gongti (`data/payment/scheme_demo.tsv`): every
/// value labelled with its source, most of them demo values (no Tianjin rate per head
/// was published, reference/payment-home.md A1).
pub struct DemoScheme {
    pub scheme: Scheme,
    /// The table's version (a digest of its text).
    pub version: String,
    /// Each parameter's source id, by name.
    pub sources: BTreeMap<String, String>,
    /// Source id → citation.
    pub citations: BTreeMap<String, String>,
}

impl DemoScheme {
    pub fn builtin() -> &'static DemoScheme {
        static DEMO: std::sync::OnceLock<DemoScheme> = std::sync::OnceLock::new();
        DEMO.get_or_init(|| {
            DemoScheme::load(
                include_str!("../../data/payment/scheme_demo.tsv"),
                include_str!("../../data/payment/sources.tsv"),
            )
            .unwrap_or_else(|p| panic!("data/payment is broken: {p:?}"))
        })
    }

    /// Reads the table (`param`, `value`, `source`) and its sources, every parameter
    /// checked as [`Scheme::parse`] checks an officer's, every source cited.
    pub fn load(table: &str, sources: &str) -> Result<DemoScheme, Vec<String>> {
        use crate::tsv::{Table, table_version};
        let mut problems = Vec::new();
        let citations = match Table::parse("payment/sources.tsv", sources, &["id", "citation"]) {
            Ok(t) => t
                .rows()
                .iter()
                .map(|r| (t.cell(r, "id").to_owned(), t.cell(r, "citation").to_owned()))
                .collect::<BTreeMap<_, _>>(),
            Err(p) => {
                problems.extend(p.iter().map(ToString::to_string));
                BTreeMap::new()
            }
        };
        let mut text = String::new();
        let mut by_name = BTreeMap::new();
        match Table::parse(
            "payment/scheme_demo.tsv",
            table,
            &["param", "value", "source"],
        ) {
            Ok(t) => {
                for row in t.rows() {
                    let (param, value, source) = (
                        t.cell(row, "param"),
                        t.cell(row, "value"),
                        t.cell(row, "source"),
                    );
                    if !citations.contains_key(source) {
                        problems.push(
                            t.problem(row, format!("unknown source {source}"))
                                .to_string(),
                        );
                    }
                    text.push_str(&format!("{param}\t{value}\n"));
                    by_name.insert(param.to_owned(), source.to_owned());
                }
            }
            Err(p) => problems.extend(p.iter().map(ToString::to_string)),
        }
        let scheme =
            match Scheme::parse(&text) {
                Ok(s) => Some(s),
                Err(p) => {
                    problems.extend(p.iter().map(|p| {
                        format!("payment/scheme_demo.tsv: {} {}", p.field, p.problem.code())
                    }));
                    None
                }
            };
        match scheme {
            Some(scheme) if problems.is_empty() => Ok(DemoScheme {
                scheme,
                version: table_version(table),
                sources: by_name,
                citations,
            }),
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> &'static Scheme {
        &DemoScheme::builtin().scheme
    }

    /// The demo's text with `name`'s line replaced by `line` (or dropped when empty).
    fn edited(name: &str, line: &str) -> String {
        let mut out = String::new();
        for l in demo().text().lines() {
            if l.split('\t').next() == Some(name) {
                if !line.is_empty() {
                    out.push_str(line);
                    out.push('\n');
                }
            } else {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }

    #[test]
    fn the_demo_scheme_loads_and_its_text_reads_back_the_same() {
        let d = DemoScheme::builtin();
        assert_eq!(d.version, "demo-2026.1");
        assert_eq!(Scheme::parse(&d.scheme.text()).as_ref(), Ok(&d.scheme));
        // DOMAIN.md §6: α 0.8, no cap, 超支不补, ≥ 70 % to the team, 2,000 per doctor.
        assert_eq!(d.scheme.prepay_share, 800_000);
        assert_eq!(d.scheme.surplus_cap_share, None);
        assert_eq!(d.scheme.overspend_share, 0);
        assert_eq!(d.scheme.team_share, 700_000);
        assert_eq!(d.scheme.contracts_per_doctor_max, 2_000);
        assert_eq!(d.scheme.quality_weights.iter().sum::<i128>(), UNIT);
        // Every parameter cites a source that is listed.
        for line in d.scheme.text().lines() {
            let name = line.split('\t').next().unwrap_or_default();
            let source = d
                .sources
                .get(name)
                .unwrap_or_else(|| panic!("{name} has no source"));
            assert!(d.citations.contains_key(source), "{name}: {source}");
        }
        // The published units (reference/payment-home.md §3, Changping).
        assert_eq!(d.scheme.work_units(WorkKind::FollowupHypertension), 17_000);
        assert_eq!(d.scheme.work_units(WorkKind::ResidentRegistered), 25_000);
    }

    #[test]
    fn a_person_weighs_by_the_band_their_age_falls_in() {
        let s = demo();
        for (age, condition, weight) in [
            (0, Condition::None, 600_000),
            (17, Condition::Both, 1_200_000),
            (18, Condition::None, 800_000),
            (59, Condition::Diabetes, 1_100_000),
            (60, Condition::Hypertension, 1_100_000),
            (74, Condition::Both, 1_400_000),
            (75, Condition::None, 1_200_000),
            (120, Condition::Diabetes, 1_400_000),
        ] {
            assert_eq!(s.weight(age, condition), weight, "{age} {condition:?}");
        }
        // DOMAIN.md §6: the band of the highest min_score reached.
        for (score, m) in [
            (0, 850_000),
            (69_999_999, 850_000),
            (70_000_000, 900_000),
            (95_000_000, UNIT),
        ] {
            assert_eq!(s.multiplier(score), m, "{score}");
        }
        assert_eq!(s.post_coefficient(Role::FamilyDoctor), Some(12_000));
        assert_eq!(s.post_coefficient(Role::InsuranceOfficer), None);
    }

    #[test]
    fn every_problem_of_a_scheme_is_named() {
        let range = |min, max| Problem::OutOfRange { min, max };
        for (text, expected) in [
            (
                edited("rate_fen.contracted", ""),
                vec![("rate_fen", Problem::Required)],
            ),
            (
                edited("rate_fen.contracted", "rate_fen.contracted\t-1"),
                vec![("rate_fen", range("0", "100000000"))],
            ),
            (
                edited("rate_fen.contracted", "rate_fen.contracted\t1.5"),
                vec![("rate_fen", range("0", "100000000"))],
            ),
            (
                edited("rate_fen.contracted", "rate_fen.unknown\t100"),
                vec![
                    ("rate_fen", Problem::UnknownCode),
                    ("rate_fen", Problem::Required),
                ],
            ),
            (
                edited("weight.18.both", ""),
                vec![("weight", Problem::Required)],
            ),
            (
                edited("weight.0.none", "weight.0.none\t101"),
                vec![("weight", range("0", "100"))],
            ),
            (
                edited("weight.0.none", "weight.0.none\t0.1234567"),
                vec![("weight", range("0", "100"))],
            ),
            (
                format!(
                    "{}weight.200.none\t1\n",
                    edited("weight.0.none", "weight.0.none\t1")
                ),
                vec![("weight", Problem::UnknownCode)],
            ),
            (
                edited("quality_band.0", ""),
                vec![("quality_band", Problem::Required)],
            ),
            (
                edited("quality_band.0", "quality_band.101\t1"),
                vec![
                    ("quality_band", range("0", "100")),
                    ("quality_band", Problem::Required),
                ],
            ),
            (
                edited(
                    "quality_weight.bp_control",
                    "quality_weight.bp_control\t0.2",
                ),
                vec![(
                    "quality_weight",
                    Problem::Inconsistent {
                        with: "quality_weight",
                    },
                )],
            ),
            (
                edited("team_share", "team_share\t0.69"),
                vec![("team_share", range("0.7", "1"))],
            ),
            (
                edited("team_share", ""),
                vec![("team_share", Problem::Required)],
            ),
            (
                edited("surplus_cap_share", "surplus_cap_share\t1.2"),
                vec![("surplus_cap_share", range("0", "1"))],
            ),
            (
                format!("{}prepay_share\t0.7\n", demo().text()),
                vec![("params", Problem::Inconsistent { with: "params" })],
            ),
            (
                format!("{}quality_band.80.0\t0.9\n", demo().text()),
                vec![("params", Problem::Inconsistent { with: "params" })],
            ),
            (
                format!("{}weight.060.none\t1\n", demo().text()),
                vec![("params", Problem::Inconsistent { with: "params" })],
            ),
            (
                format!("{}bonus\t1\n", demo().text()),
                vec![("params", Problem::UnknownCode)],
            ),
            (
                format!("{}prepay_share 0.7\n", demo().text()),
                vec![("params", Problem::Malformed)],
            ),
            (
                edited("post_coefficient.nurse", "post_coefficient.city_admin\t1"),
                vec![
                    ("post_coefficient", Problem::UnknownCode),
                    ("post_coefficient", Problem::Required),
                ],
            ),
            (
                edited(
                    "work_units.referral_sent",
                    "work_units.referral_sent\t100.5",
                ),
                vec![("work_units", range("0", "100"))],
            ),
        ] {
            let got = Scheme::parse(&text).expect_err(&text);
            let got: Vec<(&str, Problem)> = got.into_iter().map(|p| (p.field, p.problem)).collect();
            assert_eq!(got, expected, "{text}");
        }
    }

    #[test]
    fn a_budget_sums_every_scheme_and_rounds_once() {
        let s = demo();
        let m = |kind, age, condition, days, count| Member {
            kind,
            age,
            condition,
            days,
            count,
        };
        // 30,000 × 0.8 × 365/365 + 150,000 × 1.1 × 100/365 + 240,000 × 1.4 × 1/365 fen:
        // 24,000 + 45,205.479… + 920.547… = 70,126.027… → 70,126.
        let members = [
            m(SchemeKind::Contracted, 30, Condition::None, 365, 1),
            m(
                SchemeKind::MtHypertension,
                70,
                Condition::Hypertension,
                100,
                1,
            ),
            m(SchemeKind::MtDiabetes, 80, Condition::Diabetes, 1, 1),
        ];
        assert_eq!(s.budget_fen(&members, 365), 70_126);
        // Three persons of 1 day at 30,000 fen × 0.6: 49.315… fen each; rounded once, 148
        // fen (rounded per person, 49 × 3 = 147).
        let young = [m(SchemeKind::Contracted, 5, Condition::None, 1, 3)];
        assert_eq!(s.budget_fen(&young, 365), 148);
        // The clearing under the demo's bands (score 85 → 0.95) and 超支不补.
        let c = s.clearing(1_000_000, 85_000_000, 1_000_000);
        assert_eq!(c.adjusted_budget_fen, 950_000);
        assert_eq!(c.surplus_fen, -50_000);
        assert_eq!((c.fund_covers_fen, c.community_bears_fen), (0, 50_000));
        assert_eq!(c.prepaid_fen, 800_000);
    }

    #[test]
    fn a_cap_is_optional_and_a_comment_or_blank_line_is_skipped() {
        let text = edited("surplus_cap_share", "surplus_cap_share\t0.3");
        let s = Scheme::parse(&format!("# a comment\n\n{text}")).expect("parses");
        assert_eq!(s.surplus_cap_share, Some(300_000));
        assert!(s.text().contains("surplus_cap_share\t0.3\n"));
        assert_eq!(Scheme::parse(&s.text()), Ok(s));
    }
}
