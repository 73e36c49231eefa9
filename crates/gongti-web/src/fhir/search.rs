//! FHIR R4 search as http://hl7.org/fhir/R4/search.html defines it, shared by every
//! resource type: each handler declares its parameters ([`Spec`]) and gets back a
//! [`Search`] — its filters parsed (tokens with or without a system, references
//! relative or absolute, dates with the nine prefixes and partial values,
//! comma-separated alternatives, repeated parameters ANDed) and the result parameters
//! (`_count`, `_total`, `_summary=count`, `_elements`, `_sort`).
//!
//! Handling is lenient by default, as the specification says: a parameter we do not
//! know is ignored and left out of the `self` link, so the client sees what was
//! applied. `Prefer: handling=strict` refuses it instead. A modifier we do not support
//! is refused either way (the specification's SHALL), as is a malformed value.
//!
//! Paging: a list read whole (one patient's records) is filtered, sorted and counted
//! before it is cut into pages (`_offset`); a region-wide list pages by keyset
//! (`_cursor`) with its total counted by the store.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde_json::{Value, json};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{decode_cursor, encode_cursor};

/// A search parameter's type (the subset of R4's we serve).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Token,
    Date,
    Reference,
    String,
}

impl Kind {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Kind::Token => "token",
            Kind::Date => "date",
            Kind::Reference => "reference",
            Kind::String => "string",
        }
    }
}

/// What one resource type's search supports: the CapabilityStatement is written from
/// it, and a test derives its cases from the CapabilityStatement.
pub(crate) struct Spec {
    pub params: &'static [(&'static str, Kind)],
    /// Parameters `_sort` accepts (each also as `-name`).
    pub sorts: &'static [&'static str],
    /// `_include` values served (`Type:param`).
    pub includes: &'static [&'static str],
    /// `_revinclude` values served (`Type:param`).
    pub revincludes: &'static [&'static str],
}

/// `Bundle.total`: counted unless the client says `_total=none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Total {
    None,
    Accurate,
}

/// The page size when the client gives no `_count`, and its bound.
pub(crate) const COUNT_DEFAULT: usize = crate::PAGE_SIZE_DEFAULT as usize;
pub(crate) const COUNT_MAX: usize = gongti_store::PAGE_SIZE_MAX as usize;

/// The query string's pairs and how to handle what we do not know.
pub(crate) struct FhirQuery {
    pairs: Vec<(String, String)>,
    strict: bool,
}

impl FhirQuery {
    /// The query's pairs as sent (empty values dropped).
    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Whether the client asked for `Prefer: handling=strict`.
    pub(crate) fn strict(&self) -> bool {
        self.strict
    }

    /// No parameters: what a read by id lists its record from.
    pub(crate) fn empty() -> FhirQuery {
        FhirQuery {
            pairs: Vec::new(),
            strict: false,
        }
    }
}

impl FromRequestParts<AppState> for FhirQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        let pairs = parts
            .uri
            .query()
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    // An empty value is ignored (R4 search §3.1.1.0: "empty parameters").
                    .filter(|(_, v)| !v.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let strict = parts
            .headers
            .get_all("prefer")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split([',', ';']))
            .any(|p| p.trim().eq_ignore_ascii_case("handling=strict"));
        Ok(FhirQuery { pairs, strict })
    }
}

fn bad(code: &'static str, zh: &str, en: &str, detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(code, zh, en)
        .with_detail(detail.into())
        .fhir()
}

/// One filter as the client wrote it.
#[derive(Debug, Clone)]
struct Filter {
    name: String,
    modifier: Option<String>,
    value: String,
}

/// A parsed search.
pub(crate) struct Search {
    filters: Vec<Filter>,
    /// What the `self` and `next` links repeat: the applied parameters.
    echoed: Vec<(String, String)>,
    pub count: usize,
    pub offset: usize,
    pub after: Option<i64>,
    pub total: Total,
    pub summary_count: bool,
    pub elements: Option<Vec<String>>,
    /// `(parameter, descending)`.
    pub sort: Vec<(String, bool)>,
    pub includes: Vec<String>,
    pub revincludes: Vec<String>,
}

impl FhirQuery {
    /// Parses the query against `spec`.
    pub(crate) fn search(&self, spec: &Spec) -> Result<Search, ApiError> {
        let mut s = Search {
            filters: Vec::new(),
            echoed: Vec::new(),
            count: COUNT_DEFAULT,
            offset: 0,
            after: None,
            total: Total::Accurate,
            summary_count: false,
            elements: None,
            sort: Vec::new(),
            includes: Vec::new(),
            revincludes: Vec::new(),
        };
        let unsupported = |name: &str| {
            bad(
                "unsupported_search_parameter",
                "不支持的查询参数",
                "Unsupported search parameter",
                name,
            )
        };
        for (key, value) in &self.pairs {
            let (name, modifier) = match key.split_once(':') {
                Some((n, m)) => (n, Some(m)),
                None => (key.as_str(), None),
            };
            let echo = match name {
                "_count" => {
                    let n: usize = value.parse().map_err(|_| {
                        bad(
                            "bad_count",
                            "_count 应为非负整数",
                            "_count must be a whole number",
                            value.as_str(),
                        )
                    })?;
                    if n == 0 {
                        s.summary_count = true;
                    }
                    s.count = n.clamp(1, COUNT_MAX);
                    true
                }
                "_offset" => {
                    s.offset = value.parse().map_err(|_| {
                        bad(
                            "bad_cursor",
                            "分页位置无效",
                            "The paging offset is not valid",
                            value.as_str(),
                        )
                    })?;
                    false
                }
                "_cursor" => {
                    s.after = decode_cursor(Some(value)).map_err(ApiError::fhir)?;
                    false
                }
                "_total" => {
                    match value.as_str() {
                        "none" => s.total = Total::None,
                        "estimate" | "accurate" => s.total = Total::Accurate,
                        _ if self.strict => return Err(unsupported("_total")),
                        _ => continue,
                    }
                    true
                }
                "_summary" => {
                    match value.as_str() {
                        "count" => s.summary_count = true,
                        "false" => {}
                        _ if self.strict => return Err(unsupported("_summary")),
                        _ => continue,
                    }
                    true
                }
                "_elements" => {
                    s.elements = Some(
                        value
                            .split(',')
                            .map(str::trim)
                            .filter(|e| !e.is_empty())
                            .map(str::to_owned)
                            .collect(),
                    );
                    true
                }
                "_sort" => {
                    let mut sort = Vec::new();
                    for one in value.split(',').map(str::trim) {
                        let (field, desc) = match one.strip_prefix('-') {
                            Some(f) => (f, true),
                            None => (one, false),
                        };
                        if spec.sorts.contains(&field) {
                            sort.push((field.to_owned(), desc));
                        } else if self.strict {
                            return Err(unsupported("_sort"));
                        }
                    }
                    if sort.is_empty() {
                        continue;
                    }
                    // The link repeats what was applied.
                    let applied: Vec<String> = sort
                        .iter()
                        .map(|(f, desc)| format!("{}{f}", if *desc { "-" } else { "" }))
                        .collect();
                    s.echoed.push((key.clone(), applied.join(",")));
                    s.sort = sort;
                    false
                }
                "_include" | "_revinclude" => {
                    let (served, into) = if name == "_include" {
                        (spec.includes, &mut s.includes)
                    } else {
                        (spec.revincludes, &mut s.revincludes)
                    };
                    if served.contains(&value.as_str()) {
                        into.push(value.clone());
                        true
                    } else if self.strict {
                        return Err(unsupported(name));
                    } else {
                        continue;
                    }
                }
                // Content negotiation answers `_format` (406 for anything but JSON).
                "_format" | "_pretty" => continue,
                _ => match spec.params.iter().find(|(n, _)| *n == name) {
                    Some((_, kind)) => {
                        if let Some(m) = modifier
                            && !modifier_supported(*kind, m)
                        {
                            return Err(bad(
                                "unsupported_modifier",
                                "不支持的参数修饰符",
                                "Unsupported search parameter modifier",
                                key.as_str(),
                            ));
                        }
                        check_value(*kind, value)?;
                        s.filters.push(Filter {
                            name: name.to_owned(),
                            modifier: modifier.map(str::to_owned),
                            value: value.clone(),
                        });
                        true
                    }
                    None if self.strict => return Err(unsupported(name)),
                    None => continue,
                },
            };
            if echo {
                s.echoed.push((key.clone(), value.clone()));
            }
        }
        Ok(s)
    }
}

fn modifier_supported(kind: Kind, modifier: &str) -> bool {
    match kind {
        Kind::String => false,
        // A reference's type modifier (`subject:Patient=12`).
        Kind::Reference => modifier.chars().next().is_some_and(char::is_uppercase),
        Kind::Token | Kind::Date => false,
    }
}

/// Refuses a malformed value before anything is read.
fn check_value(kind: Kind, value: &str) -> Result<(), ApiError> {
    if kind == Kind::Date {
        for one in alternatives(value) {
            DateTest::parse(&one)?;
        }
    }
    if kind == Kind::Reference {
        for one in alternatives(value) {
            if one.is_empty() || one.ends_with('/') {
                return Err(bad(
                    "bad_reference",
                    "引用格式无效",
                    "Not a valid reference",
                    one,
                ));
            }
        }
    }
    Ok(())
}

/// Comma-separated alternatives (`\,` is a literal comma).
pub(crate) fn alternatives(value: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut escaped = false;
    for c in value.chars() {
        match (escaped, c) {
            (false, '\\') => escaped = true,
            (false, ',') => out.push(String::new()),
            (_, c) => {
                escaped = false;
                if let Some(last) = out.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    out
}

/// A token alternative: `system|code`, `|code` (no system), `system|` or `code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    /// `None`: any system; `Some("")`: no system.
    pub system: Option<String>,
    /// `None`: any code of the system.
    pub code: Option<String>,
}

impl Token {
    pub(crate) fn parse(s: &str) -> Token {
        match s.split_once('|') {
            Some((system, code)) => Token {
                system: Some(system.to_owned()),
                code: (!code.is_empty()).then(|| code.to_owned()),
            },
            None => Token {
                system: None,
                code: Some(s.to_owned()),
            },
        }
    }

    /// Whether a coding (its system and code) matches.
    pub(crate) fn matches(&self, system: &str, code: &str) -> bool {
        self.system.as_deref().is_none_or(|s| s == system)
            && self.code.as_deref().is_none_or(|c| c == code)
    }

    /// The code when the system is `system` or not given.
    pub(crate) fn code_in(&self, system: &str) -> Option<&str> {
        match &self.system {
            Some(s) if s != system => None,
            _ => self.code.as_deref(),
        }
    }
}

/// An instant range `[start, end)` in microseconds since the epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    pub start_us: i64,
    pub end_us: i64,
}

impl Range {
    /// A local day (the region's zone).
    pub(crate) fn day(d: Date) -> Range {
        let start = local_midnight_us(d);
        Range {
            start_us: start,
            end_us: start + DAY_US,
        }
    }

    pub(crate) fn instant(us: i64) -> Range {
        Range {
            start_us: us,
            end_us: us + 1,
        }
    }

    /// From the first day's start to the end of the last (an open end runs on).
    pub(crate) fn days(from: Date, to: Option<Date>) -> Range {
        Range {
            start_us: local_midnight_us(from),
            end_us: to.map_or(i64::MAX, |t| local_midnight_us(t) + DAY_US),
        }
    }
}

const DAY_US: i64 = 86_400_000_000;

fn local_midnight_us(d: Date) -> i64 {
    let t = PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_offset(gongti_app::DISPLAY_OFFSET);
    (t.unix_timestamp_nanos() / 1000) as i64
}

/// The nine date prefixes of R4 search §3.1.1.4.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prefix {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Sa,
    Eb,
    Ap,
}

/// One date alternative: its prefix and the range its value implies (a year, a month,
/// a day or an instant; dates without a zone are the region's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DateTest {
    pub prefix: Prefix,
    pub range: Range,
}

impl DateTest {
    pub(crate) fn parse(s: &str) -> Result<DateTest, ApiError> {
        let prefixes = [
            ("eq", Prefix::Eq),
            ("ne", Prefix::Ne),
            ("gt", Prefix::Gt),
            ("lt", Prefix::Lt),
            ("ge", Prefix::Ge),
            ("le", Prefix::Le),
            ("sa", Prefix::Sa),
            ("eb", Prefix::Eb),
            ("ap", Prefix::Ap),
        ];
        let (prefix, rest) = prefixes
            .iter()
            .find_map(|(p, v)| s.strip_prefix(p).map(|r| (*v, r)))
            .unwrap_or((Prefix::Eq, s));
        let range = parse_date_range(rest).ok_or_else(|| {
            bad(
                "bad_date",
                "日期格式无效：应为 YYYY、YYYY-MM、YYYY-MM-DD 或带时区的时间",
                "Dates are YYYY, YYYY-MM, YYYY-MM-DD or a date-time with its zone",
                s,
            )
        })?;
        Ok(DateTest { prefix, range })
    }

    /// Whether a target's range matches, as R4 search §3.1.1.4.2 defines each prefix.
    pub(crate) fn matches(&self, target: Range, now_us: i64) -> bool {
        let p = self.range;
        let contains = p.start_us <= target.start_us && target.end_us <= p.end_us;
        match self.prefix {
            Prefix::Eq => contains,
            Prefix::Ne => !contains,
            Prefix::Gt => target.end_us > p.end_us,
            Prefix::Lt => target.start_us < p.start_us,
            Prefix::Ge => target.end_us > p.end_us || contains,
            Prefix::Le => target.start_us < p.start_us || contains,
            Prefix::Sa => target.start_us >= p.end_us,
            Prefix::Eb => target.end_us <= p.start_us,
            Prefix::Ap => {
                // Within a tenth of the distance from now, a day at least.
                let gap = (p.start_us - now_us).abs() / 10;
                let slack = gap.max(DAY_US);
                target.start_us < p.end_us + slack && target.end_us > p.start_us - slack
            }
        }
    }
}

impl DateTest {
    /// The local days whose whole-day range this test matches (any prefix but `ne`, whose
    /// days are not one range): found by testing the days around the value, for the
    /// matching days are one run there and run on without end for `ge`, `gt`, `sa` (and
    /// back for `le`, `lt`, `eb`). `(Some(a), Some(b))` with `a > b` when none match.
    fn matching_days(&self, now_us: i64) -> (Option<Date>, Option<Date>) {
        // `ap` reaches a tenth of the distance from now: scan as far.
        let slack_days = if self.prefix == Prefix::Ap {
            ((self.range.start_us - now_us).abs() / 10 / DAY_US + 2).min(40_000)
        } else {
            1
        };
        let first = local_day(self.range.start_us) - time::Duration::days(slack_days);
        let last =
            local_day(self.range.end_us.saturating_sub(1)) + time::Duration::days(slack_days);
        let mut found: Option<(Date, Date)> = None;
        let mut d = first;
        while d <= last {
            if self.matches(Range::day(d), now_us) {
                found = Some(found.map_or((d, d), |(a, _)| (a, d)));
            }
            match d.next_day() {
                Some(n) => d = n,
                None => break,
            }
        }
        let (lo, hi) = found.unwrap_or((last, first));
        match self.prefix {
            Prefix::Ge | Prefix::Gt | Prefix::Sa => (Some(lo), None),
            Prefix::Le | Prefix::Lt | Prefix::Eb => (None, Some(hi)),
            _ => (Some(lo), Some(hi)),
        }
    }
}

/// `YYYY`, `YYYY-MM`, `YYYY-MM-DD` (local) or `YYYY-MM-DDThh:mm[:ss[.f]](Z|±hh:mm)`.
fn parse_date_range(s: &str) -> Option<Range> {
    let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
    let year = s.get(..4).filter(|y| digits(y, 4))?.parse::<i32>().ok()?;
    match s.len() {
        4 => {
            let from = Date::from_calendar_date(year, Month::January, 1).ok()?;
            let to = Date::from_calendar_date(year, Month::December, 31).ok()?;
            return Some(Range::days(from, Some(to)));
        }
        7 if s.as_bytes()[4] == b'-' && digits(&s[5..7], 2) => {
            let month = Month::try_from(s[5..7].parse::<u8>().ok()?).ok()?;
            let from = Date::from_calendar_date(year, month, 1).ok()?;
            let to = Date::from_calendar_date(year, month, month.length(year)).ok()?;
            return Some(Range::days(from, Some(to)));
        }
        _ => {}
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let day = Date::parse(s.get(..10)?, &fmt).ok()?;
    if s.len() == 10 {
        return Some(Range::day(day));
    }
    let rest = s[10..].strip_prefix('T')?;
    let (clock, offset) = if let Some(c) = rest.strip_suffix('Z') {
        (c, UtcOffset::UTC)
    } else if !rest.contains(['+', '-']) {
        // No zone: the region's, as a date alone is.
        (rest, gongti_app::DISPLAY_OFFSET)
    } else {
        let at = rest.rfind(['+', '-'])?;
        let (c, z) = rest.split_at(at);
        let sign: i8 = if z.starts_with('-') { -1 } else { 1 };
        let (h, m) = z[1..].split_once(':')?;
        if !digits(h, 2) || !digits(m, 2) {
            return None;
        }
        let offset = UtcOffset::from_hms(
            sign * h.parse::<i8>().ok()?,
            sign * m.parse::<i8>().ok()?,
            0,
        )
        .ok()?;
        (c, offset)
    };
    let mut parts = clock.split(':');
    let h = parts.next().filter(|h| digits(h, 2))?.parse::<u8>().ok()?;
    let m = parts.next().filter(|m| digits(m, 2))?.parse::<u8>().ok()?;
    let (sec, nanos, precision_us) = match parts.next() {
        None => (0, 0, 60_000_000),
        Some(sec) => {
            let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
            if !digits(whole, 2) || !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
                return None;
            }
            let nanos = if frac.is_empty() {
                0
            } else {
                format!("{frac:0<9}").parse::<u32>().ok()?
            };
            let precision = if frac.is_empty() { 1_000_000 } else { 1 };
            (whole.parse::<u8>().ok()?, nanos, precision)
        }
    };
    if parts.next().is_some() {
        return None;
    }
    let at = PrimitiveDateTime::new(day, Time::from_hms_nano(h, m, sec, nanos).ok()?)
        .assume_offset(offset);
    let start = (at.unix_timestamp_nanos() / 1000) as i64;
    Some(Range {
        start_us: start,
        end_us: start + precision_us,
    })
}

impl Search {
    /// Every occurrence of a parameter (ANDed), each as its alternatives (ORed).
    pub(crate) fn all(&self, name: &str) -> Vec<Vec<String>> {
        self.filters
            .iter()
            .filter(|f| f.name == name)
            .map(|f| alternatives(&f.value))
            .collect()
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.filters.iter().any(|f| f.name == name)
    }

    /// A single-valued parameter's value (its first occurrence and alternative).
    pub(crate) fn first(&self, name: &str) -> Option<String> {
        self.all(name).into_iter().next()?.into_iter().next()
    }

    /// The modifier of a parameter's first occurrence.
    pub(crate) fn modifier(&self, name: &str) -> Option<&str> {
        self.filters
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.modifier.as_deref())
    }

    /// Token parameters: every occurrence must match one of its alternatives.
    pub(crate) fn tokens_match(&self, name: &str, codings: &[(&str, &str)]) -> bool {
        self.all(name).iter().all(|ors| {
            ors.iter().any(|one| {
                let t = Token::parse(one);
                codings.iter().any(|(s, c)| t.matches(s, c))
            })
        })
    }

    /// Date parameters: every occurrence must match one of its alternatives.
    pub(crate) fn dates_match(&self, name: &str, target: Range, now_us: i64) -> bool {
        self.all(name).iter().all(|ors| {
            ors.iter()
                .any(|one| DateTest::parse(one).is_ok_and(|t| t.matches(target, now_us)))
        })
    }

    /// Reference parameters naming `resource` ids: each occurrence's ids (relative,
    /// `Type/id`, or absolute on our base); an alternative naming another type or
    /// server can match nothing and is left out.
    pub(crate) fn reference_ids(&self, name: &str, resource: &str, base: &str) -> Vec<Vec<i64>> {
        let typed = self.modifier(name).is_some_and(|m| m != resource);
        self.all(name)
            .iter()
            .map(|ors| {
                if typed {
                    return Vec::new();
                }
                ors.iter()
                    .filter_map(|one| reference_id(one, resource, base))
                    .collect()
            })
            .collect()
    }

    /// Whether an id satisfies every occurrence of a reference parameter.
    pub(crate) fn references_match(&self, name: &str, resource: &str, base: &str, id: i64) -> bool {
        self.reference_ids(name, resource, base)
            .iter()
            .all(|ids| ids.contains(&id))
    }

    /// The one `resource` a required reference names (`patient`, `schedule`): the ids
    /// of every occurrence of `names` intersected. `Ok(None)` when they can match
    /// nothing here (another type or server, or no id in common); `missing` when none
    /// is given; refused when several remain (one at a time: access is per record).
    pub(crate) fn one_referenced(
        &self,
        names: &[&str],
        resource: &str,
        base: &str,
        missing: ApiError,
    ) -> Result<Option<i64>, ApiError> {
        let mut found: Option<Vec<i64>> = None;
        for name in names {
            for ids in self.reference_ids(name, resource, base) {
                found = Some(match found {
                    None => ids,
                    Some(prev) => prev.into_iter().filter(|i| ids.contains(i)).collect(),
                });
            }
        }
        match found.as_deref() {
            None => Err(missing),
            Some([]) => Ok(None),
            Some([one]) => Ok(Some(*one)),
            Some(_) => Err(bad(
                "one_reference",
                "一次只能检索一个对象",
                "Search one at a time",
                resource,
            )),
        }
    }

    /// A date parameter the store answers as one range: each occurrence one value, no
    /// `ne` (its matches are two ranges).
    fn ranged_tests(&self, name: &str) -> Result<Vec<DateTest>, ApiError> {
        let mut tests = Vec::new();
        for ors in self.all(name) {
            let [one] = ors.as_slice() else {
                return Err(bad(
                    "one_value",
                    "此参数只能给一个值",
                    "This parameter takes one value here",
                    name,
                ));
            };
            let t = DateTest::parse(one)?;
            if t.prefix == Prefix::Ne {
                return Err(bad(
                    "unsupported_prefix",
                    "此日期参数不支持 ne 前缀",
                    "This date parameter does not take the ne prefix",
                    name,
                ));
            }
            tests.push(t);
        }
        Ok(tests)
    }

    /// The days a date parameter of a keyset search matches, as one range for the
    /// store (`None`: unbounded; from after to: none). Exact for a day-valued element
    /// (a birth date) at any precision of the value; for one within a day (a clinic's
    /// hours) the days it may fall on. Each occurrence takes one value, and `ne` (not
    /// one range) is refused.
    pub(crate) fn day_bounds(
        &self,
        name: &str,
        now_us: i64,
    ) -> Result<(Option<Date>, Option<Date>), ApiError> {
        let (mut from, mut to) = (None::<Date>, None::<Date>);
        for t in self.ranged_tests(name)? {
            let (lo, hi) = t.matching_days(now_us);
            from = from.max(lo);
            to = match (to, hi) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            };
        }
        Ok((from, to))
    }

    /// The instants a date parameter on an instant (`_lastUpdated`) matches, as one
    /// range for the store: `(from, until)` in microseconds, `from` inclusive and
    /// `until` exclusive, `None` unbounded. One value per occurrence; `ne` refused.
    pub(crate) fn instant_bounds(
        &self,
        name: &str,
        now_us: i64,
    ) -> Result<(Option<i64>, Option<i64>), ApiError> {
        let (mut from, mut until) = (None::<i64>, None::<i64>);
        for t in self.ranged_tests(name)? {
            let p = t.range;
            // For an instant t (the range [t, t+1)), R4's prefixes read as bounds on t.
            let (lo, hi) = match t.prefix {
                Prefix::Eq => (Some(p.start_us), Some(p.end_us)),
                Prefix::Gt | Prefix::Sa => (Some(p.end_us), None),
                Prefix::Ge => (Some(p.start_us), None),
                Prefix::Lt | Prefix::Eb => (None, Some(p.start_us)),
                Prefix::Le => (None, Some(p.end_us)),
                Prefix::Ap => {
                    let slack = ((p.start_us - now_us).abs() / 10).max(DAY_US);
                    (Some(p.start_us - slack), Some(p.end_us + slack))
                }
                // Refused by ranged_tests: not one range.
                Prefix::Ne => (None, None),
            };
            from = from.max(lo);
            until = match (until, hi) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            };
        }
        Ok((from, until))
    }

    /// A parameter a keyset search filters on in the store: one value (comma
    /// alternatives refused, for the store takes one), the first occurrence.
    pub(crate) fn one_value(&self, name: &str) -> Result<Option<String>, ApiError> {
        let all = self.all(name);
        match all.as_slice() {
            [] => Ok(None),
            [ors] if ors.len() == 1 => Ok(ors.first().cloned()),
            _ => Err(bad(
                "one_value",
                "此参数只能给一个值",
                "This parameter takes one value here",
                name,
            )),
        }
    }

    /// A parameter a keyset search filters on in the store with any of several
    /// values: the comma-separated alternatives of its one occurrence (R4 search
    /// §3.1.1.3, OR); the parameter repeated (AND) is refused, for no record has two.
    pub(crate) fn any_of(&self, name: &str) -> Result<Vec<String>, ApiError> {
        let all = self.all(name);
        match all.as_slice() {
            [] => Ok(Vec::new()),
            [ors] => Ok(ors.clone()),
            _ => Err(bad(
                "one_value",
                "此参数只能出现一次（多个值请用逗号分隔）",
                "This parameter may appear once here (separate alternatives with commas)",
                name,
            )),
        }
    }

    /// Sorts a patient's list by its dates when `_sort` asks (`date`, `-date`).
    pub(crate) fn sort_by_time<T>(&self, found: &mut [T], start_us: impl Fn(&T) -> i64) {
        if let Some((_, desc)) = self.sort.first() {
            found.sort_by_key(|t| start_us(t));
            if *desc {
                found.reverse();
            }
        }
    }

    /// The positions of a list of `len` this page shows (what `_include` reads).
    pub(crate) fn window(&self, len: usize) -> std::ops::Range<usize> {
        if self.summary_count {
            return 0..0;
        }
        let start = self.offset.min(len);
        start..(start + self.count).min(len)
    }

    /// Cuts a list already filtered and sorted into this search's page.
    /// Whether a resource's `meta.lastUpdated` satisfies `_lastUpdated` (a list read
    /// whole filters with it before paging, and before choosing what a page includes).
    pub(crate) fn last_updated_matches(&self, v: &Value) -> bool {
        if self.all("_lastUpdated").is_empty() {
            return true;
        }
        let now_us = gongti_app::unix_us(OffsetDateTime::now_utc());
        v["meta"]["lastUpdated"]
            .as_str()
            .and_then(|t| {
                OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            })
            .is_some_and(|at| {
                self.dates_match(
                    "_lastUpdated",
                    Range::instant(gongti_app::unix_us(at)),
                    now_us,
                )
            })
    }

    pub(crate) fn page_of(&self, mut all: Vec<Value>) -> Page {
        // `_lastUpdated` on a list read whole: each resource's own meta.lastUpdated.
        all.retain(|v| self.last_updated_matches(v));
        let total = all.len();
        if self.summary_count {
            return Page {
                entries: Vec::new(),
                total: Some(total),
                next: Next::None,
            };
        }
        let start = self.offset.min(total);
        let end = (start + self.count).min(total);
        let entries: Vec<Value> = all.drain(start..end).collect();
        Page {
            entries,
            total: (self.total == Total::Accurate).then_some(total),
            next: if end < total {
                Next::Offset(end)
            } else {
                Next::None
            },
        }
    }

    /// The resource as `_elements` asks: its id, meta and the named top-level elements,
    /// tagged SUBSETTED.
    fn shape(&self, mut r: Value) -> Value {
        let Some(elements) = &self.elements else {
            return r;
        };
        if let Some(map) = r.as_object_mut() {
            map.retain(|k, _| {
                matches!(k.as_str(), "resourceType" | "id" | "meta")
                    || elements.iter().any(|e| e == k)
            });
            let meta = map.entry("meta").or_insert_with(|| json!({}));
            meta["tag"] = json!([{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}]);
        }
        r
    }
}

/// Where the next page starts.
pub(crate) enum Next {
    None,
    Offset(usize),
    Cursor(i64),
}

/// One page of a search and its total.
pub(crate) struct Page {
    pub entries: Vec<Value>,
    pub total: Option<usize>,
    pub next: Next,
}

/// `Organization/12`, `12`, or `{base}/Organization/12`: the id, when it names
/// `resource` on this server.
pub(crate) fn reference_id(s: &str, resource: &str, base: &str) -> Option<i64> {
    let relative = s
        .strip_prefix(base)
        .and_then(|r| r.strip_prefix('/'))
        .unwrap_or(s);
    let raw = match relative.split_once('/') {
        Some((ty, id)) if ty == resource => id,
        Some(_) => return None,
        None => relative,
    };
    raw.parse().ok()
}

/// A searchset Bundle: `total`, the `self` link (the parameters applied) and `next`.
pub(crate) fn searchset(
    base: &str,
    resource: &str,
    s: &Search,
    page: Page,
    included: Vec<Value>,
) -> Value {
    let link = |extra: Option<(&str, String)>| {
        let mut pairs: Vec<String> = s
            .echoed
            .iter()
            .map(|(k, v)| format!("{}={}", super::encode(k), super::encode(v)))
            .collect();
        if let Some((k, v)) = extra {
            pairs.push(format!("{k}={v}"));
        }
        if pairs.is_empty() {
            format!("{base}/{resource}")
        } else {
            format!("{base}/{resource}?{}", pairs.join("&"))
        }
    };
    let here = if s.offset > 0 {
        Some(("_offset", s.offset.to_string()))
    } else {
        s.after.map(|a| ("_cursor", encode_cursor(a)))
    };
    let mut links = vec![json!({"relation": "self", "url": link(here)})];
    match page.next {
        Next::None => {}
        Next::Offset(o) => {
            links.push(json!({"relation": "next", "url": link(Some(("_offset", o.to_string())))}))
        }
        Next::Cursor(c) => links
            .push(json!({"relation": "next", "url": link(Some(("_cursor", encode_cursor(c))))})),
    }
    let entry = |r: Value, mode: &str| {
        let url = format!(
            "{base}/{}/{}",
            r["resourceType"].as_str().unwrap_or(resource),
            r["id"].as_str().unwrap_or_default()
        );
        json!({"fullUrl": url, "resource": r, "search": {"mode": mode}})
    };
    let mut entries: Vec<Value> = page
        .entries
        .into_iter()
        .map(|r| entry(s.shape(r), "match"))
        .collect();
    entries.extend(included.into_iter().map(|r| entry(r, "include")));
    let mut bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
    });
    if let Some(t) = page.total {
        bundle["total"] = t.into();
    }
    if !entries.is_empty() {
        bundle["entry"] = entries.into();
    }
    bundle
}

/// The local day of an instant.
pub(crate) fn local_day(us: i64) -> Date {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .map(|t| t.to_offset(gongti_app::DISPLAY_OFFSET).date())
        .unwrap_or(Date::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Date {
        Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).unwrap()
    }

    /// R4 search §3.1.1.4.2: each prefix against a target day, with partial values.
    #[test]
    fn date_prefixes_and_partial_dates() {
        let now = local_midnight_us(day("2026-12-02"));
        let target = Range::day(day("2026-05-15"));
        let cases = [
            ("2026-05-15", true),
            ("2026-05", true),
            ("2026", true),
            ("2025", false),
            ("eq2026-05-14", false),
            ("ne2026-05-14", true),
            ("ne2026", false),
            ("gt2026-05-14", true),
            ("gt2026-05-15", false),
            ("ge2026-05-15", true),
            ("ge2026-05-16", false),
            ("ge2026-05", true),
            ("lt2026-05-16", true),
            ("lt2026-05-15", false),
            ("le2026-05-15", true),
            ("le2026-05-14", false),
            ("le2026-04", false),
            ("sa2026-05-14", true),
            ("sa2026-05-15", false),
            ("eb2026-05-16", true),
            ("eb2026-05", false),
            ("ap2026-05-10", true),
            ("ap2025-01-01", false),
            ("ge2026-05-15T00:00:00+08:00", true),
            ("lt2026-05-14T16:00:00Z", false),
            ("lt2026-05-15T16:00:01Z", true),
            ("ge2026-05-15T00:00", true),
            ("sa2026-05-15T23:59", false),
        ];
        for (value, expected) in cases {
            let t = DateTest::parse(value).unwrap();
            assert_eq!(t.matches(target, now), expected, "{value}");
        }
        for bad in [
            "2026-13",
            "26-01-01",
            "2026-02-30",
            "2026-05-15T8:00Z",
            "2026-05-15T08:00+8",
            "x",
        ] {
            assert!(DateTest::parse(bad).is_err(), "{bad}");
        }
    }

    /// The store's day range for a day-valued element is exactly the days the test
    /// matches, whatever the value's precision and prefix.
    #[test]
    fn day_bounds_are_the_matching_days() {
        let now = local_midnight_us(day("2026-12-02"));
        let values = [
            "2026-05-15",
            "2026-05",
            "2026",
            "gt2026-05-15",
            "ge2026-05",
            "lt2026-05-15",
            "le2026",
            "sa2026-05-15",
            "eb2026-05",
            "ap2026-05-10",
            "ap1960-01-01",
            "ge2026-05-15T10:00+08:00",
            "lt2026-05-15T10:00+08:00",
            "eq2026-05-15T10:00Z",
            "gt2026-05-14T16:00:00Z",
            "le2026-05-15T23:59:59.5+08:00",
        ];
        for value in values {
            let t = DateTest::parse(value).unwrap();
            let (from, to) = t.matching_days(now);
            let mut d = day("1950-01-01");
            while d < day("2028-01-01") {
                let inside = from.is_none_or(|f| d >= f) && to.is_none_or(|t| d <= t);
                assert_eq!(inside, t.matches(Range::day(d), now), "{value} on {d}");
                d = d.next_day().unwrap();
            }
        }
    }

    /// The store's instant range for `_lastUpdated` holds exactly the instants the
    /// test matches.
    #[test]
    fn instant_bounds_are_the_matching_instants() {
        let now = local_midnight_us(day("2026-12-02"));
        for value in [
            "2026-05-15",
            "gt2026-05-15T10:00:00Z",
            "ge2026-05",
            "lt2026-05-15T10:00+08:00",
            "le2026",
            "sa2026-05-15",
            "eb2026-05-15",
            "ap2026-05-15",
        ] {
            let search = FhirQuery {
                pairs: vec![("_lastUpdated".into(), value.into())],
                strict: true,
            }
            .search(&Spec {
                params: &[("_lastUpdated", Kind::Date)],
                sorts: &[],
                includes: &[],
                revincludes: &[],
            })
            .unwrap();
            let (from, until) = search.instant_bounds("_lastUpdated", now).unwrap();
            let t = DateTest::parse(value).unwrap();
            let mut at = local_midnight_us(day("2025-12-30"));
            while at < local_midnight_us(day("2027-01-03")) {
                for probe in [at, at + 1, at + 36_000_000_000 - 1, at + 36_000_000_000] {
                    let inside = from.is_none_or(|f| probe >= f) && until.is_none_or(|u| probe < u);
                    assert_eq!(
                        inside,
                        t.matches(Range::instant(probe), now),
                        "{value} at {probe}"
                    );
                }
                at += DAY_US / 2;
            }
        }
    }

    #[test]
    fn tokens_and_references() {
        let t = Token::parse("http://loinc.org|85354-9");
        assert!(t.matches("http://loinc.org", "85354-9"));
        assert!(!t.matches("urn:other", "85354-9"));
        assert!(Token::parse("85354-9").matches("urn:any", "85354-9"));
        assert!(!Token::parse("|85354-9").matches("http://loinc.org", "85354-9"));
        assert!(Token::parse("http://loinc.org|").matches("http://loinc.org", "x"));
        let base = "https://gongti.example/fhir";
        assert_eq!(reference_id("Patient/12", "Patient", base), Some(12));
        assert_eq!(reference_id("12", "Patient", base), Some(12));
        assert_eq!(
            reference_id(&format!("{base}/Patient/12"), "Patient", base),
            Some(12)
        );
        assert_eq!(
            reference_id("https://elsewhere/fhir/Patient/12", "Patient", base),
            None
        );
        assert_eq!(reference_id("Group/12", "Patient", base), None);
        assert_eq!(
            alternatives(r"a,b\,c"),
            vec!["a".to_owned(), "b,c".to_owned()]
        );
    }
}
