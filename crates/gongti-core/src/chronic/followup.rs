//! One follow-up (随访) judged by DOMAIN.md §2: urgent referral (紧急转诊), the
//! classification 1–4 (控制满意 / 控制不满意 / 不良反应 / 并发症), whether to refer, and
//! when to see the patient next — each decision with the reasons that produced it.
//!
//! [`validate`] turns a form into [`Findings`] (collecting every problem);
//! [`evaluate`] is the rule itself and cannot fail.

use super::{Bp, Disease, Params};
use crate::measure::{Celsius, Mmol};
use crate::problem::{FieldProblem, Problem};

/// How the follow-up was done. Phone follow-ups are recorded but never count towards
/// the face-to-face ones (DOMAIN.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// 门诊
    Clinic,
    /// 家庭
    Home,
    /// 电话
    Phone,
}

impl Method {
    pub fn code(self) -> &'static str {
        match self {
            Method::Clinic => "clinic",
            Method::Home => "home",
            Method::Phone => "phone",
        }
    }

    /// The way of follow-up in Chinese (随访方式).
    pub fn name_zh(self) -> &'static str {
        match self {
            Method::Clinic => "门诊",
            Method::Home => "家庭",
            Method::Phone => "电话",
        }
    }

    pub fn parse(code: &str) -> Option<Method> {
        match code {
            "clinic" => Some(Method::Clinic),
            "home" => Some(Method::Home),
            "phone" => Some(Method::Phone),
            _ => None,
        }
    }

    pub fn is_face_to_face(self) -> bool {
        !matches!(self, Method::Phone)
    }
}

/// The classification of a follow-up (随访分类); the most severe that applies wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Classification {
    /// 1 控制满意
    Satisfactory = 1,
    /// 2 控制不满意
    Unsatisfactory = 2,
    /// 3 不良反应
    AdverseReaction = 3,
    /// 4 并发症
    Complication = 4,
}

impl Classification {
    pub fn number(self) -> u8 {
        self as u8
    }

    pub fn from_number(n: i64) -> Option<Classification> {
        match n {
            1 => Some(Classification::Satisfactory),
            2 => Some(Classification::Unsatisfactory),
            3 => Some(Classification::AdverseReaction),
            4 => Some(Classification::Complication),
            _ => None,
        }
    }
}

/// New or worse complications since the last follow-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Complication {
    None,
    New,
    Worse,
}

impl Complication {
    pub fn parse(code: &str) -> Option<Complication> {
        match code {
            "none" => Some(Complication::None),
            "new" => Some(Complication::New),
            "worse" => Some(Complication::Worse),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Complication::None => "none",
            Complication::New => "new",
            Complication::Worse => "worse",
        }
    }
}

/// Drug adverse reactions at this follow-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdverseReaction {
    None,
    Present,
    /// Cannot be controlled: refer (DOMAIN.md §2).
    Uncontrolled,
}

macro_rules! symptoms {
    ($($variant:ident = $code:literal, htn: $htn:literal, dm: $dm:literal;)*) => {
        /// Symptoms and signs a follow-up records. Those the specification lists as
        /// urgent for a programme trigger an urgent referral in that programme; the
        /// others are recorded only. The list is documented in docs/followup.md.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Symptom {
            $($variant,)*
        }

        impl Symptom {
            pub const ALL: &'static [Symptom] = &[$(Symptom::$variant,)*];

            pub fn code(self) -> &'static str {
                match self {
                    $(Symptom::$variant => $code,)*
                }
            }

            pub fn parse(code: &str) -> Option<Symptom> {
                match code {
                    $($code => Some(Symptom::$variant),)*
                    _ => None,
                }
            }

            /// Whether the specification lists this as an urgent-referral sign for
            /// the programme.
            pub fn is_urgent_for(self, disease: Disease) -> bool {
                match self {
                    $(Symptom::$variant => match disease {
                        Disease::Hypertension => $htn,
                        Disease::Diabetes => $dm,
                    },)*
                }
            }
        }
    };
}

symptoms! {
    // Urgent signs (DOMAIN.md §2 "Urgent referral").
    AlteredConsciousness = "altered_consciousness", htn: true, dm: true;
    SevereHeadacheOrDizziness = "severe_headache_dizziness", htn: true, dm: false;
    NauseaVomiting = "nausea_vomiting", htn: true, dm: true;
    BlurredVision = "blurred_vision", htn: true, dm: false;
    EyePain = "eye_pain", htn: true, dm: false;
    Palpitations = "palpitations", htn: true, dm: true;
    ChestTightness = "chest_tightness", htn: true, dm: false;
    Orthopnoea = "orthopnoea", htn: true, dm: false;
    AcetoneBreath = "acetone_breath", htn: false, dm: true;
    Sweating = "sweating", htn: false, dm: true;
    Anorexia = "anorexia", htn: false, dm: true;
    PolydipsiaPolyuria = "polydipsia_polyuria", htn: false, dm: true;
    AbdominalPain = "abdominal_pain", htn: false, dm: true;
    DeepRapidBreathing = "deep_rapid_breathing", htn: false, dm: true;
    FlushedSkin = "flushed_skin", htn: false, dm: true;
    SuddenVisionLoss = "sudden_vision_loss", htn: false, dm: true;
    OtherUnmanageable = "other_unmanageable", htn: true, dm: true;
    // Recorded symptoms of the follow-up forms, not urgent by themselves.
    HeadacheOrDizziness = "headache_dizziness", htn: false, dm: false;
    Tinnitus = "tinnitus", htn: false, dm: false;
    Dyspnoea = "dyspnoea", htn: false, dm: false;
    Nosebleed = "nosebleed", htn: false, dm: false;
    NumbLimbs = "numb_limbs", htn: false, dm: false;
    LegOedema = "leg_oedema", htn: false, dm: false;
    WeightLoss = "weight_loss", htn: false, dm: false;
}

/// What the doctor found, valid by construction (see [`validate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Findings {
    pub disease: Disease,
    pub age_years: u8,
    pub method: Method,
    /// Absent only on a phone follow-up that measured nothing.
    pub bp: Option<Bp>,
    /// Fasting plasma glucose; absent only on a phone follow-up or for hypertension.
    pub fpg: Option<Mmol>,
    pub heart_rate_bpm: Option<u16>,
    pub temperature: Option<Celsius>,
    pub symptoms: Vec<Symptom>,
    pub pregnant_or_breastfeeding: bool,
    pub adverse_reaction: AdverseReaction,
    pub complication: Complication,
    /// The classification of the patient's previous follow-up in this programme.
    pub previous: Option<Classification>,
    /// 低血糖反应 recorded as "frequent" (diabetes): never 控制满意 (DOMAIN.md §2,
    /// hypoglycaemia at a follow-up).
    pub frequent_hypoglycaemia: bool,
    /// Takes glucose-lowering drugs or insulin: a hypoglycaemia is then recorded as
    /// an adverse reaction rather than as poor control.
    pub glucose_lowering: bool,
}

/// Why the rules decided what they did; each names the rule that fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    UrgentBp {
        bp: Bp,
        at_or_above: Bp,
    },
    UrgentGlucoseHigh {
        fpg: Mmol,
        at_or_above: Mmol,
    },
    UrgentGlucoseLow {
        fpg: Mmol,
        at_or_below: Mmol,
    },
    UrgentHeartRate {
        heart_rate_bpm: u16,
        above_bpm: u16,
    },
    UrgentTemperature {
        temperature: Celsius,
        above: Celsius,
    },
    UrgentSymptom(Symptom),
    /// Pregnancy or breastfeeding with raised BP (hypertension) or raised glucose
    /// (diabetes).
    UrgentPregnancy,
    Controlled,
    BpAtOrAboveTarget {
        sbp_below_mmhg: u16,
        dbp_below_mmhg: u16,
    },
    FpgAtOrAboveTarget {
        fpg_below: Mmol,
    },
    /// FPG at or below the low threshold, or frequent hypoglycaemia: never satisfactory.
    Hypoglycaemia {
        /// The low reading, when one was measured.
        fpg: Option<Mmol>,
        /// Whether glucose-lowering drugs or insulin make it an adverse reaction.
        on_treatment: bool,
    },
    AdverseReaction,
    AdverseReactionUncontrolled,
    Complication(Complication),
    UnsatisfactoryTwiceInARow,
    /// A phone follow-up that measured nothing: control could not be judged.
    NotMeasured,
    /// Recorded, but not one of the face-to-face follow-ups.
    PhoneDoesNotCount,
}

impl Reason {
    /// Stable code for API clients.
    pub fn code(self) -> &'static str {
        match self {
            Reason::UrgentBp { .. } => "urgent_bp",
            Reason::UrgentGlucoseHigh { .. } => "urgent_glucose_high",
            Reason::UrgentGlucoseLow { .. } => "urgent_glucose_low",
            Reason::UrgentHeartRate { .. } => "urgent_heart_rate",
            Reason::UrgentTemperature { .. } => "urgent_temperature",
            Reason::UrgentSymptom(_) => "urgent_symptom",
            Reason::UrgentPregnancy => "urgent_pregnancy",
            Reason::Controlled => "controlled",
            Reason::BpAtOrAboveTarget { .. } => "bp_not_controlled",
            Reason::FpgAtOrAboveTarget { .. } => "fpg_not_controlled",
            Reason::Hypoglycaemia { .. } => "hypoglycaemia",
            Reason::AdverseReaction => "adverse_reaction",
            Reason::AdverseReactionUncontrolled => "adverse_reaction_uncontrolled",
            Reason::Complication(_) => "complication",
            Reason::UnsatisfactoryTwiceInARow => "unsatisfactory_twice",
            Reason::NotMeasured => "not_measured",
            Reason::PhoneDoesNotCount => "phone_not_counted",
        }
    }

    /// The rule that fired, as a reference into DOMAIN.md §2.
    pub fn rule(self) -> &'static str {
        match self {
            Reason::UrgentBp { .. }
            | Reason::UrgentGlucoseHigh { .. }
            | Reason::UrgentGlucoseLow { .. }
            | Reason::UrgentHeartRate { .. }
            | Reason::UrgentTemperature { .. }
            | Reason::UrgentSymptom(_)
            | Reason::UrgentPregnancy => "§2 urgent referral",
            Reason::Controlled
            | Reason::BpAtOrAboveTarget { .. }
            | Reason::FpgAtOrAboveTarget { .. }
            | Reason::Hypoglycaemia { .. }
            | Reason::AdverseReaction
            | Reason::Complication(_)
            | Reason::NotMeasured => "§2 classification",
            Reason::AdverseReactionUncontrolled | Reason::UnsatisfactoryTwiceInARow => {
                "§2 refer after classification"
            }
            Reason::PhoneDoesNotCount => "§2 follow-up: phone does not count",
        }
    }

    pub fn is_urgent(self) -> bool {
        self.rule() == "§2 urgent referral"
    }
}

/// What the rules decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// `None` only for a phone follow-up that measured nothing and found no
    /// adverse reaction or complication.
    pub classification: Option<Classification>,
    pub urgent_referral: bool,
    pub refer: bool,
    pub next_followup_within_days: u16,
    pub counts_as_face_to_face: bool,
    pub reasons: Vec<Reason>,
}

/// Judges one follow-up (DOMAIN.md §2: urgent referral, classification, refer, next).
pub fn evaluate(f: &Findings, params: &Params) -> Evaluation {
    let mut reasons = Vec::new();

    // Urgent referral: any sign is enough; collect them all.
    if let Some(bp) = f.bp
        && bp.at_or_above(params.urgent_bp.sbp_mmhg, params.urgent_bp.dbp_mmhg)
    {
        reasons.push(Reason::UrgentBp {
            bp,
            at_or_above: params.urgent_bp,
        });
    }
    if f.disease == Disease::Diabetes {
        if let Some(fpg) = f.fpg {
            if fpg >= params.urgent_glucose_at_or_above {
                reasons.push(Reason::UrgentGlucoseHigh {
                    fpg,
                    at_or_above: params.urgent_glucose_at_or_above,
                });
            } else if fpg <= params.urgent_glucose_at_or_below {
                reasons.push(Reason::UrgentGlucoseLow {
                    fpg,
                    at_or_below: params.urgent_glucose_at_or_below,
                });
            }
        }
        if let Some(hr) = f.heart_rate_bpm
            && hr > params.urgent_heart_rate_above_bpm
        {
            reasons.push(Reason::UrgentHeartRate {
                heart_rate_bpm: hr,
                above_bpm: params.urgent_heart_rate_above_bpm,
            });
        }
        if let Some(t) = f.temperature
            && t > params.urgent_temperature_above
        {
            reasons.push(Reason::UrgentTemperature {
                temperature: t,
                above: params.urgent_temperature_above,
            });
        }
    }
    let mut symptoms = f.symptoms.clone();
    symptoms.sort();
    symptoms.dedup();
    for s in symptoms {
        if s.is_urgent_for(f.disease) {
            reasons.push(Reason::UrgentSymptom(s));
        }
    }
    if f.pregnant_or_breastfeeding {
        let raised = match f.disease {
            Disease::Hypertension => f.bp.is_some_and(|bp| {
                bp.at_or_above(params.raised_bp.sbp_mmhg, params.raised_bp.dbp_mmhg)
            }),
            Disease::Diabetes => f.fpg.is_some_and(|g| !params.targets.fpg_controlled(g)),
        };
        if raised {
            reasons.push(Reason::UrgentPregnancy);
        }
    }
    let urgent_referral = !reasons.is_empty();

    // Classification: the most severe that applies.
    let control = match f.disease {
        Disease::Hypertension => f.bp.map(|bp| {
            let target = params.targets.bp_for_age(f.age_years);
            if target.is_met_by(bp) {
                Ok(())
            } else {
                Err(Reason::BpAtOrAboveTarget {
                    sbp_below_mmhg: target.sbp_below_mmhg,
                    dbp_below_mmhg: target.dbp_below_mmhg,
                })
            }
        }),
        Disease::Diabetes => f.fpg.map(|fpg| {
            if params.targets.fpg_controlled(fpg) {
                Ok(())
            } else {
                Err(Reason::FpgAtOrAboveTarget {
                    fpg_below: params.targets.fpg_below,
                })
            }
        }),
    };
    // Hypoglycaemia (DOMAIN.md §2, our rule): a low FPG or frequent hypoglycaemia is
    // never satisfactory; on glucose-lowering treatment it is an adverse reaction.
    let low_fpg = f.fpg.filter(|g| *g <= params.urgent_glucose_at_or_below);
    let hypoglycaemia = (f.disease == Disease::Diabetes
        && (low_fpg.is_some() || f.frequent_hypoglycaemia))
        .then_some(Reason::Hypoglycaemia {
            fpg: low_fpg,
            on_treatment: f.glucose_lowering,
        });
    let classification = if f.complication != Complication::None {
        reasons.push(Reason::Complication(f.complication));
        reasons.extend(hypoglycaemia);
        Some(Classification::Complication)
    } else if f.adverse_reaction != AdverseReaction::None {
        reasons.push(Reason::AdverseReaction);
        reasons.extend(hypoglycaemia);
        Some(Classification::AdverseReaction)
    } else if let Some(h) = hypoglycaemia {
        reasons.push(h);
        if f.glucose_lowering {
            Some(Classification::AdverseReaction)
        } else {
            Some(Classification::Unsatisfactory)
        }
    } else {
        match control {
            Some(Ok(())) => {
                reasons.push(Reason::Controlled);
                Some(Classification::Satisfactory)
            }
            Some(Err(reason)) => {
                reasons.push(reason);
                Some(Classification::Unsatisfactory)
            }
            None => {
                reasons.push(Reason::NotMeasured);
                None
            }
        }
    };
    // A complication or an adverse reaction also records an uncontrolled reading,
    // so the doctor sees everything that is off.
    if (matches!(
        classification,
        Some(Classification::Complication | Classification::AdverseReaction)
    ) || hypoglycaemia.is_some())
        && let Some(Err(reason)) = control
    {
        reasons.push(reason);
    }

    let mut refer = urgent_referral || classification == Some(Classification::Complication);
    if f.adverse_reaction == AdverseReaction::Uncontrolled {
        reasons.push(Reason::AdverseReactionUncontrolled);
        refer = true;
    }
    if classification == Some(Classification::Unsatisfactory)
        && f.previous == Some(Classification::Unsatisfactory)
    {
        reasons.push(Reason::UnsatisfactoryTwiceInARow);
        refer = true;
    }

    let next_followup_within_days = if urgent_referral {
        params.urgent_task_days
    } else {
        match classification {
            Some(Classification::Satisfactory) => params.routine_interval_days,
            Some(_) => params.short_interval_days,
            // Nothing measured: routine only if the last visit was satisfactory.
            None if f.previous == Some(Classification::Satisfactory) => {
                params.routine_interval_days
            }
            None => params.short_interval_days,
        }
    };

    let counts_as_face_to_face = f.method.is_face_to_face();
    if !counts_as_face_to_face {
        reasons.push(Reason::PhoneDoesNotCount);
    }

    Evaluation {
        classification,
        urgent_referral,
        refer,
        next_followup_within_days,
        counts_as_face_to_face,
        reasons,
    }
}

/// Plausible ranges; anything outside is a typing error, not a reading.
pub const SBP_MMHG: (u16, u16) = (50, 300);
pub const DBP_MMHG: (u16, u16) = (20, 200);
pub const FPG_CENTI_MMOL: (i32, i32) = (50, 6000);
pub const HEART_RATE_BPM: (u16, u16) = (20, 250);
pub const TEMPERATURE_CENTI_C: (i32, i32) = (3000, 4500);
pub const AGE_YEARS: (u8, u8) = (0, 130);
/// At most this many symptom codes on one follow-up.
pub const SYMPTOMS_MAX: usize = 32;

/// A follow-up as entered, before validation: numbers as the client sent them.
#[derive(Debug, Clone, Default)]
pub struct FollowupForm {
    pub disease: String,
    pub age_years: Option<i64>,
    pub method: String,
    pub sbp_mmhg: Option<i64>,
    pub dbp_mmhg: Option<i64>,
    pub fpg_mmol: Option<f64>,
    pub heart_rate_bpm: Option<i64>,
    pub temperature_c: Option<f64>,
    pub symptoms: Vec<String>,
    pub pregnant_or_breastfeeding: bool,
    pub adverse_reaction: bool,
    pub adverse_reaction_uncontrolled: bool,
    /// `none` when absent.
    pub complication: Option<String>,
    pub previous_classification: Option<i64>,
}

fn range_problem(min: &'static str, max: &'static str) -> Problem {
    Problem::OutOfRange { min, max }
}

fn int_in(
    problems: &mut Vec<FieldProblem>,
    field: &'static str,
    value: Option<i64>,
    (min, max): (u16, u16),
    (min_text, max_text): (&'static str, &'static str),
) -> Option<u16> {
    let v = value?;
    if v < i64::from(min) || v > i64::from(max) {
        problems.push(FieldProblem::new(field, range_problem(min_text, max_text)));
        return None;
    }
    u16::try_from(v).ok()
}

fn centi_in(
    problems: &mut Vec<FieldProblem>,
    field: &'static str,
    value: Option<f64>,
    (min, max): (i32, i32),
    (min_text, max_text): (&'static str, &'static str),
) -> Option<i32> {
    let v = value?;
    let centi = Mmol::from_f64(v).map(Mmol::centi);
    match centi {
        Some(c) if (min..=max).contains(&c) => Some(c),
        _ => {
            problems.push(FieldProblem::new(field, range_problem(min_text, max_text)));
            None
        }
    }
}

/// Checks a follow-up form, collecting every problem. Face-to-face follow-ups must
/// measure BP (both programmes) and fasting glucose (diabetes); a phone follow-up
/// may measure nothing, but not half a BP.
pub fn validate(form: &FollowupForm) -> Result<Findings, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let disease = if form.disease.is_empty() {
        problems.push(FieldProblem::new("disease", Problem::Required));
        None
    } else {
        let d = Disease::parse(&form.disease);
        if d.is_none() {
            problems.push(FieldProblem::new("disease", Problem::UnknownCode));
        }
        d
    };
    let method = if form.method.is_empty() {
        problems.push(FieldProblem::new("method", Problem::Required));
        None
    } else {
        let m = Method::parse(&form.method);
        if m.is_none() {
            problems.push(FieldProblem::new("method", Problem::UnknownCode));
        }
        m
    };
    let age_years = match form.age_years {
        None => {
            problems.push(FieldProblem::new("age_years", Problem::Required));
            None
        }
        Some(a) => int_in(
            &mut problems,
            "age_years",
            Some(a),
            (u16::from(AGE_YEARS.0), u16::from(AGE_YEARS.1)),
            ("0", "130"),
        )
        .and_then(|a| u8::try_from(a).ok()),
    };
    let sbp = int_in(
        &mut problems,
        "sbp_mmhg",
        form.sbp_mmhg,
        SBP_MMHG,
        ("50", "300"),
    );
    let dbp = int_in(
        &mut problems,
        "dbp_mmhg",
        form.dbp_mmhg,
        DBP_MMHG,
        ("20", "200"),
    );
    if let (Some(s), Some(d)) = (sbp, dbp)
        && d >= s
    {
        problems.push(FieldProblem::new(
            "dbp_mmhg",
            Problem::Inconsistent { with: "sbp_mmhg" },
        ));
    }
    let face_to_face = method.is_none_or(Method::is_face_to_face);
    match (form.sbp_mmhg.is_some(), form.dbp_mmhg.is_some()) {
        (true, false) => problems.push(FieldProblem::new("dbp_mmhg", Problem::Required)),
        (false, true) => problems.push(FieldProblem::new("sbp_mmhg", Problem::Required)),
        (false, false) if face_to_face => {
            problems.push(FieldProblem::new("sbp_mmhg", Problem::Required));
            problems.push(FieldProblem::new("dbp_mmhg", Problem::Required));
        }
        _ => {}
    }
    let fpg = centi_in(
        &mut problems,
        "fpg_mmol",
        form.fpg_mmol,
        FPG_CENTI_MMOL,
        ("0.5", "60.0"),
    )
    .map(Mmol::from_centi);
    if disease == Some(Disease::Diabetes) && face_to_face && form.fpg_mmol.is_none() {
        problems.push(FieldProblem::new("fpg_mmol", Problem::Required));
    }
    let heart_rate_bpm = int_in(
        &mut problems,
        "heart_rate_bpm",
        form.heart_rate_bpm,
        HEART_RATE_BPM,
        ("20", "250"),
    );
    let temperature = centi_in(
        &mut problems,
        "temperature_c",
        form.temperature_c,
        TEMPERATURE_CENTI_C,
        ("30.0", "45.0"),
    )
    .map(Celsius::from_centi);
    let mut symptoms = Vec::new();
    if form.symptoms.len() > SYMPTOMS_MAX {
        problems.push(FieldProblem::new(
            "symptoms",
            Problem::TooLong {
                max_chars: SYMPTOMS_MAX,
            },
        ));
    } else {
        for code in &form.symptoms {
            match Symptom::parse(code) {
                Some(s) => symptoms.push(s),
                None => problems.push(FieldProblem::new("symptoms", Problem::UnknownCode)),
            }
        }
    }
    let adverse_reaction = match (form.adverse_reaction, form.adverse_reaction_uncontrolled) {
        (false, false) => AdverseReaction::None,
        (true, false) => AdverseReaction::Present,
        (true, true) => AdverseReaction::Uncontrolled,
        (false, true) => {
            problems.push(FieldProblem::new(
                "adverse_reaction_uncontrolled",
                Problem::Inconsistent {
                    with: "adverse_reaction",
                },
            ));
            AdverseReaction::Uncontrolled
        }
    };
    let complication = match form.complication.as_deref() {
        None => Some(Complication::None),
        Some(code) => {
            let c = Complication::parse(code);
            if c.is_none() {
                problems.push(FieldProblem::new("complication", Problem::UnknownCode));
            }
            c
        }
    };
    let previous = match form.previous_classification {
        None => None,
        Some(n) => {
            let c = Classification::from_number(n);
            if c.is_none() {
                problems.push(FieldProblem::new(
                    "previous_classification",
                    range_problem("1", "4"),
                ));
            }
            c
        }
    };

    match (disease, method, age_years, complication) {
        (Some(disease), Some(method), Some(age_years), Some(complication))
            if problems.is_empty() =>
        {
            Ok(Findings {
                disease,
                age_years,
                method,
                bp: sbp.zip(dbp).map(|(s, d)| Bp::new(s, d)),
                fpg,
                heart_rate_bpm,
                temperature,
                symptoms,
                pregnant_or_breastfeeding: form.pregnant_or_breastfeeding,
                adverse_reaction,
                complication,
                previous,
                frequent_hypoglycaemia: false,
                glucose_lowering: false,
            })
        }
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests;
