//! Loading a knowledge base: each table parsed by column, every reference, number and
//! code checked, every problem collected with its file and line.

use std::collections::HashMap;

use super::*;
use crate::tsv::{Row, Table, TableProblem, list};

#[derive(Default)]
pub(super) struct Loader {
    pub(super) problems: Vec<TableProblem>,
    sources: HashMap<String, String>,
    class_codes: HashMap<String, ClassId>,
    ingredient_codes: HashMap<String, IngredientId>,
}

impl Loader {
    fn table<'a>(
        &mut self,
        file: &'static str,
        text: &'a str,
        columns: &[&str],
    ) -> Option<Table<'a>> {
        match Table::parse(file, text, columns) {
            Ok(t) => Some(t),
            Err(p) => {
                self.problems.extend(p);
                None
            }
        }
    }

    pub(super) fn load(&mut self, f: KnowledgeFiles<'_>) -> Option<Knowledge> {
        let sources = self.table("sources.tsv", f.sources, &["id", "citation"]);
        let classes = self.table(
            "classes.tsv",
            f.classes,
            &["code", "parent", "name_zh", "name_en", "aliases"],
        );
        let ingredients = self.table(
            "ingredients.tsv",
            f.ingredients,
            &[
                "code",
                "name_zh",
                "name_en",
                "aliases",
                "classes",
                "control",
                "antimicrobial",
                "tier",
                "special_storage",
                "source",
            ],
        );
        let doses = self.table(
            "doses.tsv",
            f.doses,
            &[
                "id",
                "ingredient",
                "route",
                "age_min_years",
                "age_max_years",
                "basis",
                "unit",
                "dose_min",
                "dose_max",
                "day_min",
                "day_max",
                "day_cap",
                "times_min",
                "times_max",
                "source",
            ],
        );
        let message = ["grade", "message_zh", "message_en", "source"];
        let cautions = self.table(
            "cautions.tsv",
            f.cautions,
            &[&["id", "subject", "kind", "threshold"][..], &message[..]].concat(),
        );
        let interactions = self.table(
            "interactions.tsv",
            f.interactions,
            &[
                &["id", "a", "b", "advice_zh", "advice_en"][..],
                &message[..],
            ]
            .concat(),
        );
        let duplicates = self.table(
            "duplicates.tsv",
            f.duplicates,
            &[&["id", "class"][..], &message[..]].concat(),
        );
        let indications = self.table(
            "indications.tsv",
            f.indications,
            &["id", "subject", "icd10", "grade", "source"],
        );
        let cross = self.table(
            "allergy_cross.tsv",
            f.allergy_cross,
            &[&["id", "allergy", "class"][..], &message[..]].concat(),
        );
        let params = self.table("params.tsv", f.params, &["key", "value", "source"]);
        let titles = self.table(
            "titles.tsv",
            f.titles,
            &["title", "level", "assistant", "reviews", "source"],
        );
        let products = self.table(
            "products.tsv",
            f.products,
            &[
                "code",
                "ingredient",
                "name_zh",
                "form",
                "strength",
                "unit",
                "pack_size",
                "pack_unit",
                "route",
                "insurance_class",
                "price_fen",
                "price_source",
                "source",
            ],
        );
        let (
            Some(sources),
            Some(classes),
            Some(ingredients),
            Some(doses),
            Some(cautions),
            Some(interactions),
            Some(duplicates),
            Some(indications),
            Some(cross),
            Some(params),
            Some(titles),
            Some(products),
        ) = (
            sources,
            classes,
            ingredients,
            doses,
            cautions,
            interactions,
            duplicates,
            indications,
            cross,
            params,
            titles,
            products,
        )
        else {
            return None;
        };

        for row in sources.rows() {
            let id = sources.cell(row, "id");
            let citation = sources.cell(row, "citation");
            if id.is_empty() || citation.is_empty() {
                self.problems
                    .push(sources.problem(row, "a source needs an id and a citation"));
            } else if self
                .sources
                .insert(id.to_owned(), citation.to_owned())
                .is_some()
            {
                self.problems
                    .push(sources.problem(row, format!("source `{id}` appears twice")));
            }
        }

        let (class_list, class_names) = self.classes(&classes);
        let (ingredient_list, ingredient_names) = self.ingredients(&ingredients, &class_list);
        let kb_params = self.params(&params);
        let mut kb = Knowledge {
            version: String::new(),
            params: kb_params?,
            sources: self.sources.clone(),
            classes: class_list,
            ingredients: ingredient_list,
            doses: Vec::new(),
            cautions: Vec::new(),
            interactions: Vec::new(),
            duplicates: Vec::new(),
            indications: Vec::new(),
            cross_allergies: Vec::new(),
            ingredient_names,
            class_names,
            titles: HashMap::new(),
            reviewer_titles: std::collections::HashSet::new(),
            products: Vec::new(),
        };
        kb.version = params
            .rows()
            .iter()
            .find(|r| params.cell(r, "key") == "ruleset_version")
            .map(|r| params.cell(r, "value").to_owned())
            .unwrap_or_default();
        kb.doses = self.doses(&doses);
        kb.cautions = self.cautions(&cautions);
        kb.interactions = self.interactions(&interactions);
        kb.duplicates = self.duplicates(&duplicates);
        kb.indications = self.indications(&indications, &kb);
        kb.cross_allergies = self.cross(&cross);
        kb.products = self.products(&products);
        for row in titles.rows() {
            let level = TitleLevel::parse(titles.cell(row, "level"));
            let yes_no = |column| match titles.cell(row, column) {
                "yes" => Some(true),
                "no" => Some(false),
                _ => None,
            };
            let (assistant, reviews) = (yes_no("assistant"), yes_no("reviews"));
            self.source(&titles, row);
            match (level, assistant, reviews) {
                (Some(level), Some(assistant), Some(reviews)) => {
                    let title = titles.cell(row, "title").to_owned();
                    if reviews {
                        kb.reviewer_titles.insert(title.clone());
                    }
                    kb.titles.insert(title, (level, assistant));
                }
                _ => self.problems.push(titles.problem(
                    row,
                    "level is not junior, intermediate or senior, or assistant or reviews not yes or no",
                )),
            }
        }
        let mut seen = std::collections::HashSet::new();
        for rule in kb.rules() {
            if !seen.insert(rule.id.to_owned()) {
                self.problems.push(TableProblem {
                    file: "knowledge",
                    line: 0,
                    reason: format!("the rule id `{}` is used twice", rule.id),
                });
            }
        }
        Some(kb)
    }

    fn source(&mut self, table: &Table<'_>, row: &Row<'_>) -> String {
        let id = table.cell(row, "source");
        if !self.sources.contains_key(id) {
            self.problems
                .push(table.problem(row, format!("unknown source `{id}`")));
        }
        id.to_owned()
    }

    fn grade(&mut self, table: &Table<'_>, row: &Row<'_>) -> Grade {
        let cell = table.cell(row, "grade");
        cell.parse::<u8>()
            .ok()
            .and_then(Grade::from_number)
            .unwrap_or_else(|| {
                self.problems
                    .push(table.problem(row, format!("grade `{cell}` is not 1 to 4")));
                Grade::Note
            })
    }

    fn number(&mut self, table: &Table<'_>, row: &Row<'_>, column: &str) -> f64 {
        let cell = table.cell(row, column);
        match cell.parse::<f64>() {
            Ok(n) if n.is_finite() && n >= 0.0 => n,
            _ => {
                self.problems.push(table.problem(
                    row,
                    format!("{column} `{cell}` is not a non-negative number"),
                ));
                0.0
            }
        }
    }

    fn optional_number(&mut self, table: &Table<'_>, row: &Row<'_>, column: &str) -> Option<f64> {
        if table.cell(row, column).is_empty() {
            None
        } else {
            Some(self.number(table, row, column))
        }
    }

    fn subject(&mut self, table: &Table<'_>, row: &Row<'_>, column: &str) -> Subject {
        let code = table.cell(row, column);
        if let Some(i) = self.ingredient_codes.get(code) {
            Subject::Ingredient(*i)
        } else if let Some(c) = self.class_codes.get(code) {
            Subject::Class(*c)
        } else {
            self.problems.push(table.problem(
                row,
                format!("{column} `{code}` is neither an ingredient nor a class"),
            ));
            Subject::Ingredient(IngredientId(0))
        }
    }

    fn class_ref(&mut self, table: &Table<'_>, row: &Row<'_>, column: &str) -> ClassId {
        let code = table.cell(row, column);
        self.class_codes.get(code).copied().unwrap_or_else(|| {
            self.problems
                .push(table.problem(row, format!("{column} `{code}` is not a class")));
            ClassId(0)
        })
    }

    fn text(&mut self, table: &Table<'_>, row: &Row<'_>, column: &str) -> String {
        let cell = table.cell(row, column);
        if cell.is_empty() {
            self.problems
                .push(table.problem(row, format!("{column} is empty")));
        }
        cell.to_owned()
    }

    fn classes(&mut self, t: &Table<'_>) -> (Vec<DrugClass>, HashMap<String, ClassId>) {
        for (i, row) in t.rows().iter().enumerate() {
            let code = t.cell(row, "code");
            let id = ClassId(u16::try_from(i).unwrap_or(u16::MAX));
            if code.is_empty() || self.class_codes.insert(code.to_owned(), id).is_some() {
                self.problems
                    .push(t.problem(row, format!("class code `{code}` is empty or repeated")));
            }
        }
        let mut items = Vec::new();
        let mut names = HashMap::new();
        for (i, row) in t.rows().iter().enumerate() {
            let parent = t.cell(row, "parent");
            let parent = if parent.is_empty() {
                None
            } else {
                Some(self.class_ref(t, row, "parent"))
            };
            let id = ClassId(u16::try_from(i).unwrap_or(u16::MAX));
            let name_zh = self.text(t, row, "name_zh");
            for name in [t.cell(row, "code"), &name_zh, t.cell(row, "name_en")]
                .into_iter()
                .chain(list(t.cell(row, "aliases")))
            {
                names.insert(name_key(name), id);
            }
            items.push(DrugClass {
                code: t.cell(row, "code").to_owned(),
                name_zh,
                name_en: self.text(t, row, "name_en"),
                parent,
            });
        }
        // A parent chain must end: at most as many steps as there are classes.
        for (i, class) in items.iter().enumerate() {
            let mut step = class.parent;
            let mut hops = 0;
            while let Some(p) = step {
                hops += 1;
                if hops > items.len() {
                    self.problems
                        .push(t.problem(&t.rows()[i], "the class's parents form a circle"));
                    break;
                }
                step = items.get(usize::from(p.0)).and_then(|c| c.parent);
            }
        }
        (items, names)
    }

    fn ingredients(
        &mut self,
        t: &Table<'_>,
        classes: &[DrugClass],
    ) -> (Vec<Ingredient>, HashMap<String, IngredientId>) {
        let mut items = Vec::new();
        let mut names: HashMap<String, IngredientId> = HashMap::new();
        for (i, row) in t.rows().iter().enumerate() {
            let code = t.cell(row, "code");
            let id = IngredientId(u16::try_from(i).unwrap_or(u16::MAX));
            if code.is_empty() || self.ingredient_codes.insert(code.to_owned(), id).is_some() {
                self.problems.push(t.problem(
                    row,
                    format!("ingredient code `{code}` is empty or repeated"),
                ));
            }
            if self.class_codes.contains_key(code) {
                self.problems
                    .push(t.problem(row, format!("`{code}` is both a class and an ingredient")));
            }
            let mut member_of = Vec::new();
            for class in list(t.cell(row, "classes")) {
                match self.class_codes.get(class) {
                    None => self
                        .problems
                        .push(t.problem(row, format!("unknown class `{class}`"))),
                    Some(c) => {
                        let mut step = Some(*c);
                        let mut hops = 0;
                        while let Some(c) = step {
                            if !member_of.contains(&c) {
                                member_of.push(c);
                            }
                            hops += 1;
                            step = classes
                                .get(usize::from(c.0))
                                .and_then(|k| k.parent)
                                .filter(|_| hops <= classes.len());
                        }
                    }
                }
            }
            let name_zh = self.text(t, row, "name_zh");
            for name in [code, &name_zh, t.cell(row, "name_en")]
                .into_iter()
                .chain(list(t.cell(row, "aliases")))
            {
                if let Some(other) = names.insert(name_key(name), id)
                    && other != id
                {
                    self.problems
                        .push(t.problem(row, format!("the name `{name}` means two ingredients")));
                }
            }
            let control = t.cell(row, "control");
            let control = Control::parse(control).unwrap_or_else(|| {
                self.problems
                    .push(t.problem(row, format!("unknown control `{control}`")));
                Control::None
            });
            let antimicrobial = match t.cell(row, "antimicrobial") {
                "no" => Antimicrobial::No,
                "yes" => Antimicrobial::Yes,
                "chronic" => Antimicrobial::Chronic,
                other => {
                    self.problems.push(t.problem(
                        row,
                        format!("antimicrobial `{other}` is not no, yes or chronic"),
                    ));
                    Antimicrobial::No
                }
            };
            let tier = match t.cell(row, "tier") {
                "-" => None,
                "unrestricted" => Some(Tier::Unrestricted),
                "restricted" => Some(Tier::Restricted),
                "special" => Some(Tier::Special),
                other => {
                    self.problems
                        .push(t.problem(row, format!("unknown tier `{other}`")));
                    None
                }
            };
            let special_storage = match t.cell(row, "special_storage") {
                "yes" => true,
                "no" => false,
                other => {
                    self.problems.push(
                        t.problem(row, format!("special_storage `{other}` is not yes or no")),
                    );
                    false
                }
            };
            items.push(Ingredient {
                code: code.to_owned(),
                name_zh,
                name_en: self.text(t, row, "name_en"),
                classes: member_of,
                control,
                antimicrobial,
                tier,
                special_storage,
                source: self.source(t, row),
            });
        }
        (items, names)
    }

    fn params(&mut self, t: &Table<'_>) -> Option<RxParams> {
        let mut values: HashMap<&str, &str> = HashMap::new();
        let mut sources = HashMap::new();
        for row in t.rows() {
            let key = t.cell(row, "key");
            values.insert(key, t.cell(row, "value"));
            if key != "ruleset_version" {
                let source = self.source(t, row);
                sources.insert(key.to_owned(), source);
            }
        }
        let mut missing = Vec::new();
        let mut get = |key: &'static str| -> &str {
            values.get(key).copied().unwrap_or_else(|| {
                missing.push(key);
                ""
            })
        };
        let raw = [
            get("ruleset_version"),
            get("validity_days_max"),
            get("supply_days_max"),
            get("supply_days_max_emergency"),
            get("long_supply_days_plain_max"),
            get("long_supply_days_max"),
            get("lines_max"),
            get("online_practice_years_min"),
            get("online_child_age_years_min"),
            get("long_first_title_min"),
            get("tier_restricted_title_min"),
            get("tier_special_title_min"),
            get("allergy_grade"),
            get("duplicate_ingredient_grade"),
            get("dose_over_max_grade"),
            get("dose_under_min_grade"),
            get("frequency_grade"),
            get("reviewer_years_min"),
            get("online_clinic_hours"),
            get("online_record_years"),
            get("online_chat_years"),
            get("delivery_on_time_hours"),
        ];
        for key in missing {
            self.problems.push(TableProblem {
                file: t.file,
                line: 0,
                reason: format!("no parameter `{key}`"),
            });
        }
        let mut bad = |what: &str| {
            self.problems.push(TableProblem {
                file: t.file,
                line: 0,
                reason: format!("parameter value `{what}` is not valid"),
            });
        };
        let mut days = |v: &str| {
            v.parse::<u32>().ok().filter(|d| *d > 0).or_else(|| {
                bad(v);
                None
            })
        };
        let validity = days(raw[1]);
        let supply = days(raw[2]);
        let emergency = days(raw[3]);
        let long_plain = days(raw[4]);
        let long_max = days(raw[5]);
        let lines = days(raw[6]);
        let years = days(raw[7]);
        let child = days(raw[8]);
        let reviewer_years = days(raw[17]);
        let clinic_hours = days(raw[18]);
        let record_years = days(raw[19]);
        let chat_years = days(raw[20]);
        let on_time_hours = days(raw[21]);
        let mut title = |v: &str| {
            TitleLevel::parse(v).or_else(|| {
                self.problems.push(TableProblem {
                    file: t.file,
                    line: 0,
                    reason: format!("title `{v}` is not junior, intermediate or senior"),
                });
                None
            })
        };
        let first = title(raw[9]);
        let restricted = title(raw[10]);
        let special = title(raw[11]);
        let mut grade = |v: &str| {
            v.parse::<u8>()
                .ok()
                .and_then(Grade::from_number)
                .or_else(|| {
                    self.problems.push(TableProblem {
                        file: t.file,
                        line: 0,
                        reason: format!("grade `{v}` is not 1 to 4"),
                    });
                    None
                })
        };
        let grades = [
            grade(raw[12]),
            grade(raw[13]),
            grade(raw[14]),
            grade(raw[15]),
            grade(raw[16]),
        ];
        Some(RxParams {
            validity_days_max: validity?,
            supply_days_max: supply?,
            supply_days_max_emergency: emergency?,
            long_supply_days_plain_max: long_plain?,
            long_supply_days_max: long_max?,
            lines_max: usize::try_from(lines?).ok()?,
            online_practice_years_min: years?,
            online_child_age_years_min: f64::from(child?),
            online_clinic_hours: clinic_hours?,
            online_record_years: record_years?,
            online_chat_years: chat_years?,
            delivery_on_time_hours: on_time_hours?,
            long_first_title_min: first?,
            tier_restricted_title_min: restricted?,
            tier_special_title_min: special?,
            allergy_grade: grades[0]?,
            duplicate_ingredient_grade: grades[1]?,
            dose_over_max_grade: grades[2]?,
            dose_under_min_grade: grades[3]?,
            frequency_grade: grades[4]?,
            reviewer_years_min: reviewer_years?,
            sources,
        })
    }

    fn doses(&mut self, t: &Table<'_>) -> Vec<DoseRule> {
        let mut out = Vec::new();
        for row in t.rows() {
            let ingredient = match self.subject(t, row, "ingredient") {
                Subject::Ingredient(i) => i,
                Subject::Class(_) => {
                    self.problems
                        .push(t.problem(row, "a dose is per ingredient, not per class"));
                    IngredientId(0)
                }
            };
            let route = t.cell(row, "route");
            let route = Route::parse(route).unwrap_or_else(|| {
                self.problems
                    .push(t.problem(row, format!("unknown route `{route}`")));
                Route::Oral
            });
            let unit = t.cell(row, "unit");
            let unit = DoseUnit::parse(unit).unwrap_or_else(|| {
                self.problems
                    .push(t.problem(row, format!("unknown unit `{unit}`")));
                DoseUnit::Mg
            });
            let per_kg = match t.cell(row, "basis") {
                "fixed" => false,
                "per_kg" => true,
                other => {
                    self.problems
                        .push(t.problem(row, format!("basis `{other}` is not fixed or per_kg")));
                    false
                }
            };
            let rule = DoseRule {
                id: self.text(t, row, "id"),
                ingredient,
                route,
                age_min_years: self.number(t, row, "age_min_years"),
                age_max_years: self.optional_number(t, row, "age_max_years"),
                per_kg,
                unit,
                dose_min: self.number(t, row, "dose_min"),
                dose_max: self.number(t, row, "dose_max"),
                day_min: self.number(t, row, "day_min"),
                day_max: self.number(t, row, "day_max"),
                day_cap: self.optional_number(t, row, "day_cap"),
                times_min: self.number(t, row, "times_min") as u32,
                times_max: self.number(t, row, "times_max") as u32,
                source: self.source(t, row),
            };
            if rule.dose_min > rule.dose_max
                || rule.day_min > rule.day_max
                || rule.times_min > rule.times_max
                || rule.times_min == 0
                || rule.age_max_years.is_some_and(|m| m <= rule.age_min_years)
            {
                self.problems
                    .push(t.problem(row, "a minimum is above its maximum, or times_min is 0"));
            }
            if rule.per_kg != rule.day_cap.is_some() {
                self.problems
                    .push(t.problem(row, "a per_kg row needs day_cap, and only it"));
            }
            out.push(rule);
        }
        out
    }

    fn cautions(&mut self, t: &Table<'_>) -> Vec<CautionRule> {
        let mut out = Vec::new();
        for row in t.rows() {
            let threshold = t.cell(row, "threshold");
            let number = |s: &str| s.trim().parse::<f64>().ok().filter(|n| n.is_finite());
            let kind = match (t.cell(row, "kind"), threshold) {
                ("pregnancy", "") => Some(CautionKind::Pregnancy),
                ("lactation", "") => Some(CautionKind::Lactation),
                ("renal", th) => th
                    .strip_prefix('<')
                    .and_then(number)
                    .map(CautionKind::RenalBelow),
                ("hepatic", th) => th
                    .strip_prefix(">=")
                    .and_then(Hepatic::parse)
                    .filter(|h| *h != Hepatic::None)
                    .map(CautionKind::HepaticFrom),
                ("age", th) => match th.strip_prefix(">=") {
                    Some(n) => number(n).map(CautionKind::AgeFrom),
                    None => th
                        .strip_prefix('<')
                        .and_then(number)
                        .map(CautionKind::AgeBelow),
                },
                _ => None,
            };
            let Some(kind) = kind else {
                self.problems.push(t.problem(
                    row,
                    format!(
                        "kind `{}` with threshold `{threshold}` is not understood",
                        t.cell(row, "kind")
                    ),
                ));
                continue;
            };
            out.push(CautionRule {
                id: self.text(t, row, "id"),
                subject: self.subject(t, row, "subject"),
                kind,
                grade: self.grade(t, row),
                message_zh: self.text(t, row, "message_zh"),
                message_en: self.text(t, row, "message_en"),
                source: self.source(t, row),
            });
        }
        out
    }

    fn interactions(&mut self, t: &Table<'_>) -> Vec<InteractionRule> {
        t.rows()
            .iter()
            .map(|row| InteractionRule {
                id: self.text(t, row, "id"),
                a: self.subject(t, row, "a"),
                b: self.subject(t, row, "b"),
                grade: self.grade(t, row),
                message_zh: self.text(t, row, "message_zh"),
                message_en: self.text(t, row, "message_en"),
                advice_zh: self.text(t, row, "advice_zh"),
                advice_en: self.text(t, row, "advice_en"),
                source: self.source(t, row),
            })
            .collect()
    }

    fn duplicates(&mut self, t: &Table<'_>) -> Vec<DuplicateRule> {
        t.rows()
            .iter()
            .map(|row| DuplicateRule {
                id: self.text(t, row, "id"),
                class: self.class_ref(t, row, "class"),
                grade: self.grade(t, row),
                message_zh: self.text(t, row, "message_zh"),
                message_en: self.text(t, row, "message_en"),
                source: self.source(t, row),
            })
            .collect()
    }

    fn indications(&mut self, t: &Table<'_>, kb: &Knowledge) -> Vec<IndicationRule> {
        let out: Vec<IndicationRule> = t
            .rows()
            .iter()
            .map(|row| {
                let prefixes: Vec<String> = list(t.cell(row, "icd10"))
                    .map(str::to_ascii_uppercase)
                    .collect();
                if prefixes.is_empty() {
                    self.problems.push(t.problem(row, "no ICD-10 code"));
                }
                IndicationRule {
                    id: self.text(t, row, "id"),
                    subject: self.subject(t, row, "subject"),
                    icd10_prefixes: prefixes,
                    grade: self.grade(t, row),
                    source: self.source(t, row),
                }
            })
            .collect();
        for (i, ingredient) in kb.ingredients.iter().enumerate() {
            let id = IngredientId(u16::try_from(i).unwrap_or(u16::MAX));
            if !out.iter().any(|r| kb.covers(r.subject, id)) {
                self.problems.push(TableProblem {
                    file: t.file,
                    line: 0,
                    reason: format!("no indication covers `{}`", ingredient.code),
                });
            }
        }
        out
    }

    fn products(&mut self, t: &Table<'_>) -> Vec<Product> {
        let mut out: Vec<Product> = Vec::new();
        for row in t.rows() {
            let code = t.cell(row, "code");
            if code.is_empty() || out.iter().any(|p| p.code == code) {
                self.problems
                    .push(t.problem(row, format!("product code `{code}` is empty or used twice")));
            }
            let ingredient = match self.subject(t, row, "ingredient") {
                Subject::Ingredient(i) => i,
                Subject::Class(_) => {
                    self.problems
                        .push(t.problem(row, "a product is of an ingredient, not a class"));
                    IngredientId(0)
                }
            };
            let number = |column| t.cell(row, column).parse::<f64>().ok().filter(|x| *x > 0.0);
            let (strength, pack_size, price) = (
                number("strength"),
                t.cell(row, "pack_size")
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0),
                t.cell(row, "price_fen")
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0),
            );
            let unit = DoseUnit::parse(t.cell(row, "unit"));
            let route = Route::parse(t.cell(row, "route"));
            let class = InsuranceClass::parse(t.cell(row, "insurance_class"));
            let price_source = t.cell(row, "price_source");
            if !self.sources.contains_key(price_source) {
                self.problems
                    .push(t.problem(row, format!("unknown source `{price_source}`")));
            }
            let source = self.source(t, row);
            match (strength, pack_size, price, unit, route, class) {
                (Some(strength), Some(pack_size), Some(price_fen), Some(unit), Some(route), Some(insurance_class)) => {
                    out.push(Product {
                        code: code.to_owned(),
                        ingredient,
                        name_zh: self.text(t, row, "name_zh"),
                        form: self.text(t, row, "form"),
                        strength,
                        unit,
                        pack_size,
                        pack_unit: self.text(t, row, "pack_unit"),
                        route,
                        insurance_class,
                        price_fen,
                        source,
                    });
                }
                _ => self.problems.push(t.problem(
                    row,
                    "strength, pack_size or price_fen is not a number, or unit, route or insurance_class unknown",
                )),
            }
        }
        out
    }

    fn cross(&mut self, t: &Table<'_>) -> Vec<CrossAllergyRule> {
        t.rows()
            .iter()
            .map(|row| CrossAllergyRule {
                id: self.text(t, row, "id"),
                allergy: self.subject(t, row, "allergy"),
                class: self.class_ref(t, row, "class"),
                grade: self.grade(t, row),
                message_zh: self.text(t, row, "message_zh"),
                message_en: self.text(t, row, "message_en"),
                source: self.source(t, row),
            })
            .collect()
    }
}
