//! The legal and format rules: they block issuing (DOMAIN.md §4's first table).

use super::*;
use crate::pharmacy::knowledge::{Antimicrobial, Control, Tier, TitleLevel};

impl Checker<'_> {
    pub(super) fn legal(&mut self, lines: &[Line<'_>]) {
        let d = self.draft;
        let p = &self.kb.params;
        let all: Vec<usize> = lines.iter().map(|l| l.index).collect();
        let online = d.visit.channel == Channel::Online;

        if d.lines.len() > p.lines_max {
            self.legal_finding(
                FindingCode::TooManyDrugs,
                "rx2007",
                all.iter().copied().skip(p.lines_max).collect(),
                format!(
                    "一张处方不得超过 {} 种药品，本处方开具 {} 种",
                    p.lines_max,
                    d.lines.len()
                ),
                format!(
                    "at most {} drugs on one prescription; this one has {}",
                    p.lines_max,
                    d.lines.len()
                ),
            );
        }
        for l in lines {
            let mut missing_zh = Vec::new();
            let mut missing_en = Vec::new();
            if l.draft.dose.is_none() || l.unit.is_none() {
                missing_zh.push("单次剂量");
                missing_en.push("the dose");
            }
            if l.draft.times_per_day.is_none() {
                missing_zh.push("频次");
                missing_en.push("the frequency");
            }
            if l.draft.route.is_none() {
                missing_zh.push("给药途径");
                missing_en.push("the route");
            }
            if !missing_zh.is_empty() {
                let (zh, en) = (
                    format!(
                        "{}：未写明{}，不得写“遵医嘱”",
                        self.name(l),
                        missing_zh.join("、")
                    ),
                    format!(
                        "{}: {} not written (never \"as directed\")",
                        self.name_en(l),
                        missing_en.join(", ")
                    ),
                );
                self.legal_finding(FindingCode::AsDirected, "rx2007", vec![l.index], zh, en);
            }
        }
        if d.validity_days > p.validity_days_max {
            self.legal_finding(
                FindingCode::ValidityOverLimit,
                "rx2007",
                Vec::new(),
                format!(
                    "处方有效期最长 {} 天，本处方写 {} 天",
                    p.validity_days_max, d.validity_days
                ),
                format!(
                    "a prescription is valid for at most {} days; this one says {}",
                    p.validity_days_max, d.validity_days
                ),
            );
        }
        self.supply(lines);
        for l in lines {
            let ing = self.kb.ingredient(l.ingredient);
            if d.long.is_some() {
                let why = if ing.control != Control::None {
                    Some((ing.control.name_zh(), ing.control.name_en()))
                } else if ing.antimicrobial == Antimicrobial::Yes {
                    Some((
                        "抗菌药物（结核等慢性感染用药除外）",
                        "an antimicrobial (other than for tuberculosis or another chronic infection)",
                    ))
                } else if ing.special_storage {
                    Some((
                        "对储存条件有特殊要求的药品",
                        "a drug with special storage requirements",
                    ))
                } else {
                    None
                };
                if let Some((zh, en)) = why {
                    self.legal_finding(
                        FindingCode::LongRxExcludedDrug,
                        "lrx2021",
                        vec![l.index],
                        format!("{}属于{}，不得开具长期处方", ing.name_zh, zh),
                        format!("{} is {}: never on a long prescription", ing.name_en, en),
                    );
                }
            }
            if online && ing.control.narcotic_or_psychotropic() {
                self.legal_finding(
                    FindingCode::OnlineControlledDrug,
                    "net2018",
                    vec![l.index],
                    format!(
                        "{}属于{}，不得在互联网诊疗中开具",
                        ing.name_zh,
                        ing.control.name_zh()
                    ),
                    format!(
                        "{} is a {} drug: never prescribed online",
                        ing.name_en,
                        ing.control.name_en()
                    ),
                );
            }
        }
        if online
            && d.patient.age_years < p.online_child_age_years_min
            && !(d.visit.guardian_present && d.visit.specialist_present)
        {
            self.legal_finding(
                FindingCode::OnlineChildUnattended,
                "net2018",
                Vec::new(),
                format!("为{}岁以下儿童在线开方，须确认监护人和相关专业医师陪伴", num(p.online_child_age_years_min)),
                format!("an online prescription for a child under {} needs a guardian and a relevant specialist present", num(p.online_child_age_years_min)),
            );
        }
        if online {
            let offline = &d.visit.offline_diagnoses;
            for l in lines {
                let treats = self.kb.indications.iter().any(|r| {
                    self.kb.covers(r.subject, l.ingredient)
                        && offline.iter().any(|dx| icd_matches(&r.icd10_prefixes, dx))
                });
                if !treats {
                    self.legal_finding(
                        FindingCode::OnlineFirstVisit,
                        "net2018",
                        vec![l.index],
                        format!("{}所治疾病没有线下确诊记录：互联网诊疗仅限复诊，请转线下就诊", self.name(l)),
                        format!("no offline diagnosis of a disease {} treats: online care is for repeat visits only; see the patient in a clinic", self.name_en(l)),
                    );
                }
            }
        }
        self.prescriber(lines, &all, online);
    }

    fn supply(&mut self, lines: &[Line<'_>]) {
        let d = self.draft;
        let p = &self.kb.params;
        for l in lines {
            let Some(days) = l.draft.days else { continue };
            let (limit, source, zh, en) = match d.long {
                Some(long) => {
                    if days > p.long_supply_days_max {
                        (
                            p.long_supply_days_max,
                            "lrx2021",
                            "长期处方最长",
                            "a long prescription covers at most",
                        )
                    } else if days > p.long_supply_days_plain_max
                        && !(long.assessment_recorded && long.patient_confirmed)
                    {
                        (
                            p.long_supply_days_plain_max,
                            "lrx2021",
                            "长期处方超过此天数须记录评估并经患者确认，上限",
                            "beyond this a long prescription needs a recorded assessment and the patient's confirmation; limit",
                        )
                    } else {
                        continue;
                    }
                }
                None => {
                    let limit = if d.kind == RxKind::Emergency {
                        p.supply_days_max_emergency
                    } else {
                        p.supply_days_max
                    };
                    if days <= limit || d.supply_reason {
                        continue;
                    }
                    let (zh, en) = if d.kind == RxKind::Emergency {
                        (
                            "急诊处方一般不超过",
                            "an emergency prescription covers at most",
                        )
                    } else {
                        (
                            "处方一般不超过（慢性病、老年病或特殊情况须注明理由）",
                            "a prescription covers at most (longer only with a written reason)",
                        )
                    };
                    (limit, "rx2007", zh, en)
                }
            };
            self.legal_finding(
                FindingCode::SupplyOverLimit,
                source,
                vec![l.index],
                format!("{}：用药 {days} 天；{zh} {limit} 天", self.name(l)),
                format!(
                    "{}: {days} days' supply; {en} {limit} days",
                    self.name_en(l)
                ),
            );
        }
    }

    fn prescriber(&mut self, lines: &[Line<'_>], all: &[usize], online: bool) {
        let d = self.draft;
        let p = &self.kb.params;
        let who = &d.prescriber;
        let whole = |c: &mut Self, source: &str, zh: String, en: String| {
            c.legal_finding(
                FindingCode::PrescriberNotQualified,
                source,
                all.to_vec(),
                zh,
                en,
            );
        };
        if !who.licensed {
            whole(
                self,
                "rx2007",
                "开方医师未取得执业资格".into(),
                "the prescriber holds no practising licence".into(),
            );
        }
        if online && who.independent_practice_years < p.online_practice_years_min {
            whole(
                self,
                "net2018",
                format!(
                    "互联网诊疗医师须独立执业满 {} 年（现 {} 年）",
                    p.online_practice_years_min, who.independent_practice_years
                ),
                format!(
                    "online prescribers need {} years of independent practice (has {})",
                    p.online_practice_years_min, who.independent_practice_years
                ),
            );
        }
        if who.assistant && !who.cosigned && !who.township_solo {
            whole(
                self,
                "rx2007",
                "执业助理医师开具的处方须经执业医师签名（乡镇、村独立执业者除外）".into(),
                "an assistant physician's prescription needs a physician's co-signature (unless working alone at a township or village institution)".into(),
            );
        }
        if d.long.is_some_and(|l| l.first) && who.title < p.long_first_title_min {
            whole(
                self,
                "lrx2021",
                format!(
                    "首次长期处方须由{}及以上职称医师开具",
                    p.long_first_title_min.name_zh()
                ),
                "the first long prescription needs a doctor of intermediate title or above".into(),
            );
        }
        for l in lines {
            let ing = self.kb.ingredient(l.ingredient);
            if matches!(ing.control, Control::Narcotic | Control::Psych1) && !who.narcotic_privilege
            {
                self.legal_finding(
                    FindingCode::PrescriberNotQualified,
                    "rx2007",
                    vec![l.index],
                    format!(
                        "{}属于{}，开方医师无麻醉药品和第一类精神药品处方权",
                        ing.name_zh,
                        ing.control.name_zh()
                    ),
                    format!(
                        "{} is a {} drug and the prescriber has no narcotic prescribing right",
                        ing.name_en,
                        ing.control.name_en()
                    ),
                );
            }
            let needed = match ing.tier {
                Some(Tier::Restricted) => Some((p.tier_restricted_title_min, "限制使用级")),
                Some(Tier::Special) => Some((p.tier_special_title_min, "特殊使用级")),
                _ => None,
            };
            if let Some((title, tier)) = needed.filter(|(t, _)| who.title < *t) {
                self.legal_finding(
                    FindingCode::PrescriberNotQualified,
                    "amr2012",
                    vec![l.index],
                    format!(
                        "{}为{}抗菌药物，须{}及以上职称医师开具",
                        ing.name_zh,
                        tier,
                        title.name_zh()
                    ),
                    format!(
                        "{} is a {}-tier antimicrobial and needs a higher title",
                        ing.name_en,
                        if title == TitleLevel::Senior {
                            "special"
                        } else {
                            "restricted"
                        }
                    ),
                );
            }
        }
    }
}
