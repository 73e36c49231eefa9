//! Capitation's costs (DOMAIN.md §6, issue 17 point 3): the fund-paid cost of the
//! enrolled persons' care at every level, upper hospitals included, so that a cost
//! shifted upward still counts.
//!
//! Three sources: the cloud pharmacy's 门特 settlements (the fund's share as settled),
//! the cloud centres' exams (the item's price from `data/payment/exam_prices.tsv` ×
//! the scheme's `exam_fund_share`, rounded half up) and the bureau's settlement file
//! for care outside Gongti (`SETTLEMENT_COLUMNS`, the national platform's 2207
//! fields; amounts in yuan). A cost counts for the institution where its person
//! counted under capitation on its day (`membership::owner_on`), and not at all when
//! they counted nowhere.

use std::collections::HashMap;

use time::Date;

use crate::decimal::div_half_up;
use crate::insurance::CareLevel;
use crate::problem::Problem;
use crate::roster::{Column, RosterProblem, Sheet, SheetProblem, cell_of, header_of, parse_day};

/// Where a cost comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CostSource {
    Pharmacy,
    Exam,
    Bureau,
}

impl CostSource {
    pub const ALL: [CostSource; 3] = [CostSource::Pharmacy, CostSource::Exam, CostSource::Bureau];

    pub fn code(self) -> &'static str {
        match self {
            CostSource::Pharmacy => "pharmacy",
            CostSource::Exam => "exam",
            CostSource::Bureau => "bureau",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            CostSource::Pharmacy => "云药房门特结算",
            CostSource::Exam => "云检查费用",
            CostSource::Bureau => "医保局结算数据",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            CostSource::Pharmacy => "cloud-pharmacy 门特 settlements",
            CostSource::Exam => "cloud-centre exams",
            CostSource::Bureau => "the bureau's settlements",
        }
    }
}

/// The level care happened at: a Gongti institution's, or an institution outside it
/// (named only in the bureau's file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CostLevel {
    At(CareLevel),
    Outside,
}

impl CostLevel {
    pub const ALL: [CostLevel; 5] = [
        CostLevel::At(CareLevel::Grassroots),
        CostLevel::At(CareLevel::Internet),
        CostLevel::At(CareLevel::Secondary),
        CostLevel::At(CareLevel::Tertiary),
        CostLevel::Outside,
    ];

    pub fn code(self) -> &'static str {
        match self {
            CostLevel::At(l) => l.code(),
            CostLevel::Outside => "outside",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            CostLevel::At(CareLevel::Grassroots) => "基层",
            CostLevel::At(CareLevel::Internet) => "互联网医院",
            CostLevel::At(CareLevel::Secondary) => "二级医院",
            CostLevel::At(CareLevel::Tertiary) => "三级医院",
            CostLevel::Outside => "共同体外机构",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            CostLevel::At(CareLevel::Grassroots) => "grassroots",
            CostLevel::At(CareLevel::Internet) => "internet hospital",
            CostLevel::At(CareLevel::Secondary) => "secondary hospitals",
            CostLevel::At(CareLevel::Tertiary) => "tertiary hospitals",
            CostLevel::Outside => "outside the community",
        }
    }

    /// Care above the grassroots: at a secondary or tertiary hospital, or outside.
    pub fn is_upper(self) -> bool {
        matches!(
            self,
            CostLevel::At(CareLevel::Secondary | CareLevel::Tertiary) | CostLevel::Outside
        )
    }

    fn index(self) -> usize {
        CostLevel::ALL.iter().position(|l| *l == self).unwrap_or(4)
    }
}

/// One institution's costs of a period, summed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CostTally {
    /// The fund-paid cost by [`CostSource`].
    pub by_source_fen: [i64; 3],
    /// The fund-paid cost by [`CostLevel::ALL`].
    pub by_level_fen: [i64; 5],
    pub lines: i64,
}

impl CostTally {
    pub fn add(&mut self, source: CostSource, level: CostLevel, fund_fen: i64) {
        let s = CostSource::ALL
            .iter()
            .position(|x| *x == source)
            .unwrap_or(0);
        self.by_source_fen[s] += fund_fen;
        self.by_level_fen[level.index()] += fund_fen;
        self.lines += 1;
    }

    pub fn total_fen(&self) -> i64 {
        self.by_source_fen.iter().sum()
    }

    pub fn level_fen(&self, level: CostLevel) -> i64 {
        self.by_level_fen[level.index()]
    }

    /// The cost above the grassroots (secondary, tertiary, outside).
    pub fn upper_fen(&self) -> i64 {
        CostLevel::ALL
            .iter()
            .filter(|l| l.is_upper())
            .map(|l| self.level_fen(*l))
            .sum()
    }

    /// The upper share in basis points (of 10,000), rounded half up; `None` with no
    /// cost.
    pub fn upper_share_bp(&self) -> Option<i64> {
        let total = self.total_fen();
        (total > 0).then(|| {
            let bp = div_half_up(i128::from(self.upper_fen()) * 10_000, i128::from(total));
            i64::try_from(bp).unwrap_or(10_000)
        })
    }
}

/// An exam's fund-paid cost: `round(price × share)` (share in millionths).
pub fn exam_fund_fen(price_fen: i64, fund_share: i128) -> i64 {
    let v = div_half_up(i128::from(price_fen.max(0)) * fund_share.max(0), 1_000_000);
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The price of each cloud-centre item (DEMO values, `data/payment/exam_prices.tsv`).
pub struct ExamPrices {
    pub version: String,
    prices: HashMap<String, i64>,
}

impl ExamPrices {
    pub fn builtin() -> &'static ExamPrices {
        static PRICES: std::sync::OnceLock<ExamPrices> = std::sync::OnceLock::new();
        PRICES.get_or_init(|| {
            ExamPrices::load(include_str!("../../data/payment/exam_prices.tsv"))
                .unwrap_or_else(|p| panic!("data/payment/exam_prices.tsv is broken: {p:?}"))
        })
    }

    /// Reads the table: a code once, a price in fen, a cited source.
    pub fn load(text: &str) -> Result<ExamPrices, Vec<String>> {
        use crate::tsv::{Table, table_version};
        let table = Table::parse(
            "payment/exam_prices.tsv",
            text,
            &["code", "price_fen", "source"],
        )
        .map_err(|p| p.iter().map(ToString::to_string).collect::<Vec<_>>())?;
        let mut problems = Vec::new();
        let mut prices = HashMap::new();
        for row in table.rows() {
            let code = table.cell(row, "code");
            match table.cell(row, "price_fen").parse::<i64>() {
                Ok(p) if p >= 0 => {
                    if prices.insert(code.to_owned(), p).is_some() {
                        problems.push(table.problem(row, format!("{code} twice")).to_string());
                    }
                }
                _ => problems.push(
                    table
                        .problem(row, "price_fen is not a sum in fen")
                        .to_string(),
                ),
            }
            if table.cell(row, "source").is_empty() {
                problems.push(table.problem(row, "no source").to_string());
            }
        }
        if problems.is_empty() {
            Ok(ExamPrices {
                version: table_version(text),
                prices,
            })
        } else {
            Err(problems)
        }
    }

    pub fn price_fen(&self, code: &str) -> Option<i64> {
        self.prices.get(code).copied()
    }
}

/// The bureau's settlement file: one settlement a row, by the national platform's
/// field names (2207 `setlinfo`) or their Chinese names.
pub const SETTLEMENT_COLUMNS: [Column; 7] = [
    Column {
        field: "setl_id",
        zh: "结算ID",
        en: "setl_id",
        required: true,
        example: "SETL202603150001",
    },
    Column {
        field: "psn_no",
        zh: "人员编号",
        en: "psn_no",
        required: true,
        example: "SIMPSN161",
    },
    Column {
        field: "setl_time",
        zh: "结算时间",
        en: "setl_time",
        required: true,
        example: "2026-03-15 10:20:00",
    },
    Column {
        field: "medfee_sumamt",
        zh: "医疗费总额",
        en: "medfee_sumamt",
        required: true,
        example: "356.40",
    },
    Column {
        field: "fund_pay_sumamt",
        zh: "基金支付总额",
        en: "fund_pay_sumamt",
        required: true,
        example: "249.48",
    },
    Column {
        field: "fixmedins_code",
        zh: "定点医药机构编号",
        en: "fixmedins_code",
        required: true,
        example: "H12010100001",
    },
    Column {
        field: "fixmedins_name",
        zh: "定点医药机构名称",
        en: "fixmedins_name",
        required: true,
        example: "天津市第一中心医院",
    },
];

/// The longest 结算ID, 人员编号 and 定点医药机构编号 (characters).
pub const CODE_MAX_CHARS: usize = 40;
/// The longest 定点医药机构名称 (characters).
pub const NAME_MAX_CHARS: usize = 100;
/// The largest amount of one settlement (10,000,000 yuan), in fen.
pub const AMOUNT_FEN_MAX: i64 = 1_000_000_000;

/// A row of the bureau's file read, with the problems of its own making (who the
/// person is and whether it was brought in already are for the store to say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementRow {
    pub line: usize,
    pub setl_id: String,
    pub psn_no: String,
    pub settled_on: Option<Date>,
    pub total_fen: i64,
    pub fund_fen: i64,
    pub fixmedins_code: String,
    pub fixmedins_name: String,
    pub problems: Vec<SheetProblem>,
}

/// An amount in yuan with at most two decimals, as fen.
fn fen_of(text: &str) -> Option<i64> {
    crate::decimal::scaled(text.replace(',', "").as_str(), 2)
        .and_then(|f| i64::try_from(f).ok())
        .filter(|f| (0..=AMOUNT_FEN_MAX).contains(f))
}

/// The day of a 结算时间: a day (as a register writes one) or a day and a time.
fn day_of(text: &str) -> Option<Date> {
    let day = text.split([' ', 'T']).next().unwrap_or("");
    parse_day(day)
}

/// Reads the bureau's file, each row with its own problems: every field present and
/// short enough, a 结算ID once in the file, a day, amounts in yuan (at most two
/// decimals, up to 10,000,000) with the fund's no more than the total; or, when the
/// header or the sheet as a whole cannot be read, every such problem.
pub fn settlement_rows(sheet: &Sheet) -> Result<Vec<SettlementRow>, Vec<SheetProblem>> {
    let at = header_of(sheet, &SETTLEMENT_COLUMNS)?;
    let mut first_line_of: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(sheet.rows.len());
    for (r, row) in sheet.rows.iter().enumerate() {
        let line = sheet.line_of(r);
        let cell = |field: &str| cell_of(&at, row, field);
        let mut problems = Vec::new();
        let mut problem = |field: &'static str, p: RosterProblem| {
            problems.push(SheetProblem::at_row(line, field, p));
        };
        let field = RosterProblem::Field;
        let mut text = |name: &'static str, max: usize| {
            let v = cell(name).to_owned();
            if v.is_empty() {
                problem(name, field(Problem::Required));
            } else if v.chars().count() > max {
                problem(name, field(Problem::TooLong { max_chars: max }));
            } else if v.chars().any(char::is_control) {
                problem(name, field(Problem::ControlCharacters));
            }
            v
        };
        let setl_id = text("setl_id", CODE_MAX_CHARS);
        let psn_no = text("psn_no", CODE_MAX_CHARS);
        let fixmedins_code = text("fixmedins_code", CODE_MAX_CHARS);
        let fixmedins_name = text("fixmedins_name", NAME_MAX_CHARS);
        if !setl_id.is_empty() {
            match first_line_of.get(&setl_id) {
                Some(&first) => problem("setl_id", RosterProblem::DuplicateOf { line: first }),
                None => {
                    first_line_of.insert(setl_id.clone(), line);
                }
            }
        }
        let settled_on = match cell("setl_time") {
            "" => {
                problem("setl_time", field(Problem::Required));
                None
            }
            t => {
                let d = day_of(t);
                if d.is_none() {
                    problem("setl_time", field(Problem::Malformed));
                }
                d
            }
        };
        let mut amount = |name: &'static str| match cell(name) {
            "" => {
                problem(name, field(Problem::Required));
                None
            }
            t => {
                let f = fen_of(t);
                if f.is_none() {
                    problem(
                        name,
                        field(Problem::OutOfRange {
                            min: "0",
                            max: "10000000",
                        }),
                    );
                }
                f
            }
        };
        let total = amount("medfee_sumamt");
        let fund = amount("fund_pay_sumamt");
        if let (Some(t), Some(f)) = (total, fund)
            && f > t
        {
            problem(
                "fund_pay_sumamt",
                field(Problem::Inconsistent {
                    with: "medfee_sumamt",
                }),
            );
        }
        out.push(SettlementRow {
            line,
            setl_id,
            psn_no,
            settled_on,
            total_fen: total.unwrap_or(0),
            fund_fen: fund.unwrap_or(0),
            fixmedins_code,
            fixmedins_name,
            problems,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(rows: &[&[&str]]) -> Sheet {
        let mut lines = vec![(
            1,
            [
                "结算ID",
                "人员编号",
                "结算时间",
                "医疗费总额",
                "基金支付总额",
                "定点医药机构编号",
                "定点医药机构名称",
            ]
            .map(String::from)
            .to_vec(),
        )];
        for (i, r) in rows.iter().enumerate() {
            lines.push((i + 2, r.iter().map(|c| (*c).to_owned()).collect()));
        }
        Sheet::from_lines(lines, &[], &SETTLEMENT_COLUMNS)
    }

    #[test]
    fn the_bureaus_rows_are_read_with_each_problem_by_line_and_column() {
        let rows = settlement_rows(&sheet(&[
            &[
                "S1",
                "P1",
                "2026-03-15 10:20:00",
                "356.40",
                "249.48",
                "H1",
                "一中心",
            ],
            &["S2", "P2", "20260316", "1,200", "960.5", "H2", "二中心"],
            &["S1", "", "2026-13-01", "10.001", "-1", "H1", ""],
            &["S3", "P3", "2026-03-17", "100", "100.01", "H1", "一中心"],
        ]))
        .expect("the header reads");
        assert_eq!(
            (rows[0].settled_on, rows[0].total_fen, rows[0].fund_fen),
            (Some(time::macros::date!(2026 - 03 - 15)), 35_640, 24_948)
        );
        assert!(rows[0].problems.is_empty() && rows[1].problems.is_empty());
        assert_eq!((rows[1].total_fen, rows[1].fund_fen), (120_000, 96_050));
        let named = |r: &SettlementRow| -> Vec<(usize, Option<&str>, &str)> {
            r.problems
                .iter()
                .map(|p| (p.line, p.column, p.problem.code()))
                .collect()
        };
        assert_eq!(
            named(&rows[2]),
            [
                (4, Some("psn_no"), "required"),
                (4, Some("fixmedins_name"), "required"),
                (4, Some("setl_id"), "duplicate_row"),
                (4, Some("setl_time"), "malformed"),
                (4, Some("medfee_sumamt"), "out_of_range"),
                (4, Some("fund_pay_sumamt"), "out_of_range"),
            ]
        );
        assert_eq!(
            named(&rows[3]),
            [(5, Some("fund_pay_sumamt"), "inconsistent")]
        );
        // a header without its required columns is named whole
        let bad = Sheet::from_lines(
            vec![
                (1, vec!["结算ID".into(), "金额".into()]),
                (2, vec!["S1".into(), "1".into()]),
            ],
            &[],
            &SETTLEMENT_COLUMNS,
        );
        let problems = settlement_rows(&bad).expect_err("no columns");
        assert!(
            problems
                .iter()
                .any(|p| p.problem == RosterProblem::MissingColumn
                    && p.column == Some("fund_pay_sumamt"))
        );
    }

    #[test]
    fn costs_sum_by_source_and_level_with_the_upper_share() {
        use CareLevel::{Grassroots, Tertiary};
        let mut t = CostTally::default();
        t.add(CostSource::Pharmacy, CostLevel::At(Grassroots), 6_000);
        t.add(CostSource::Exam, CostLevel::At(Tertiary), 1_750);
        t.add(CostSource::Bureau, CostLevel::Outside, 2_250);
        assert_eq!((t.total_fen(), t.upper_fen(), t.lines), (10_000, 4_000, 3));
        assert_eq!(t.upper_share_bp(), Some(4_000));
        assert_eq!(CostTally::default().upper_share_bp(), None);
        // 25,000 fen × 0.7 = 17,500; 333 × 0.5 = 166.5 → 167 (half up)
        assert_eq!(exam_fund_fen(25_000, 700_000), 17_500);
        assert_eq!(exam_fund_fen(333, 500_000), 167);
        // every catalogue item has a price
        let prices = ExamPrices::builtin();
        for item in crate::exam::orders::Catalogue::builtin().items() {
            assert!(prices.price_fen(&item.code).is_some(), "{}", item.code);
        }
    }
}
