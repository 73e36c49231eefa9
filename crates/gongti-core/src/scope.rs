//! Scopes of client systems, in the style of SMART on FHIR's system scopes (SMART App
//! Launch 2.x §"Scopes for requesting FHIR resources"): `system/Observation.write`,
//! `system/Patient.read`, `system/*.read`, or the v2 letters `system/Patient.rs`,
//! `system/Observation.cu` (only `rs`, `cu`, `cud` and `cruds`: reading is not told
//! from searching here, nor creating from updating). A scope narrows what its token may do to those resource
//! types; it never widens the access rules of the client's role and institution
//! (`access`), which still decide every record.

/// Reading (read, vread, history, search) or writing (create, update, delete).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    Read,
    Write,
}

/// One scope: a resource type (or every type) and what it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// `None` is `*`: every type.
    pub resource: Option<String>,
    pub read: bool,
    pub write: bool,
}

/// Why a scope text is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeError {
    /// Not `system/<Type or *>.<read|write|*|letters of cruds>`; the offending scope.
    Malformed(String),
    /// No scope at all.
    Empty,
}

/// The scopes a client holds, or a token was granted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scopes(Vec<Scope>);

/// Longest scope list kept (characters): a token's scopes are stored with it.
pub const SCOPES_MAX_CHARS: usize = 2_000;

fn parse_one(s: &str) -> Result<Scope, ScopeError> {
    let bad = || ScopeError::Malformed(s.chars().take(80).collect());
    let rest = s.strip_prefix("system/").ok_or_else(bad)?;
    let (ty, what) = rest.split_once('.').ok_or_else(bad)?;
    let resource = match ty {
        "*" => None,
        t if t.starts_with(|c: char| c.is_ascii_uppercase())
            && t.chars().all(|c| c.is_ascii_alphanumeric())
            && t.len() <= 64 =>
        {
            Some(t.to_owned())
        }
        _ => return Err(bad()),
    };
    let (read, write) = match what {
        "read" => (true, false),
        "write" => (false, true),
        "*" => (true, true),
        // SMART v2 letters, only where they mean what we can tell apart: reading and
        // searching together (`rs`), writing (`cu`, `cud` — nothing is deleted here),
        // or everything (`cruds`). A lone `r`, `s`, `c` … would have to widen.
        "rs" => (true, false),
        "cu" | "cud" => (false, true),
        "cruds" => (true, true),
        _ => return Err(bad()),
    };
    Ok(Scope {
        resource,
        read,
        write,
    })
}

impl Scopes {
    /// Parses a space-separated scope list (an OAuth `scope` parameter).
    pub fn parse(text: &str) -> Result<Scopes, ScopeError> {
        if text.chars().count() > SCOPES_MAX_CHARS {
            return Err(ScopeError::Malformed(text.chars().take(80).collect()));
        }
        let list = text
            .split_ascii_whitespace()
            .map(parse_one)
            .collect::<Result<Vec<_>, _>>()?;
        if list.is_empty() {
            return Err(ScopeError::Empty);
        }
        Ok(Scopes(list))
    }

    /// Whether the scopes allow `access` to resources of type `resource`.
    pub fn allows(&self, resource: &str, access: Access) -> bool {
        self.0.iter().any(|s| {
            s.resource.as_deref().is_none_or(|r| r == resource)
                && match access {
                    Access::Read => s.read,
                    Access::Write => s.write,
                }
        })
    }

    /// Whether the scopes allow `access` to every type (a `system/*` scope).
    pub fn allows_every_type(&self, access: Access) -> bool {
        self.0.iter().any(|s| {
            s.resource.is_none()
                && match access {
                    Access::Read => s.read,
                    Access::Write => s.write,
                }
        })
    }

    /// Whether everything these scopes allow, `held` allows too (a token asks for
    /// no more than its client holds).
    pub fn within(&self, held: &Scopes) -> bool {
        self.0.iter().all(|s| {
            let each = |access: Access| match &s.resource {
                Some(r) => held.allows(r, access),
                None => held.allows_every_type(access),
            };
            (!s.read || each(Access::Read)) && (!s.write || each(Access::Write))
        })
    }

    /// The canonical text (SMART v1 words): what a token is granted and stored with.
    pub fn text(&self) -> String {
        self.0
            .iter()
            .map(|s| {
                let what = match (s.read, s.write) {
                    (true, true) => "*",
                    (true, false) => "read",
                    _ => "write",
                };
                format!("system/{}.{what}", s.resource.as_deref().unwrap_or("*"))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Access::*;

    /// docs/access.md, "Client systems": what each scope allows.
    #[test]
    fn scopes_allow_their_types_and_access_only() {
        let cases: [(&str, &str, Access, bool); 15] = [
            ("system/Observation.write", "Observation", Write, true),
            ("system/Observation.write", "Observation", Read, false),
            ("system/Observation.write", "Patient", Write, false),
            ("system/Patient.read", "Patient", Read, true),
            ("system/Patient.read", "Patient", Write, false),
            ("system/*.read", "Condition", Read, true),
            ("system/*.read", "Condition", Write, false),
            ("system/*.*", "Encounter", Write, true),
            ("system/Patient.*", "Patient", Write, true),
            // SMART v2 letters.
            ("system/Patient.rs", "Patient", Read, true),
            ("system/Patient.rs", "Patient", Write, false),
            ("system/Observation.cu", "Observation", Write, true),
            ("system/Observation.cu", "Observation", Read, false),
            ("system/Observation.cud", "Observation", Write, true),
            (
                "system/Patient.read system/Observation.write",
                "Observation",
                Write,
                true,
            ),
        ];
        for (text, ty, access, allowed) in cases {
            let scopes = Scopes::parse(text).unwrap();
            assert_eq!(scopes.allows(ty, access), allowed, "{text} {ty} {access:?}");
        }
    }

    #[test]
    fn malformed_scopes_are_refused() {
        for text in [
            "patient/Patient.read",
            "user/*.read",
            "system/Patient",
            "system/patient.read",
            "system/Patient.rw",
            "system/Patient.sr",
            "system/Patient.r",
            "system/Patient.s",
            "system/Observation.c",
            "system/Observation.d",
            "system/Patient.crs",
            "system/Patient.",
            "system/Pat-ient.read",
            "openid",
            "launch/patient",
        ] {
            assert!(
                matches!(Scopes::parse(text), Err(ScopeError::Malformed(_))),
                "{text}"
            );
        }
        assert_eq!(Scopes::parse("  "), Err(ScopeError::Empty));
        assert!(Scopes::parse(&"system/Patient.read ".repeat(200)).is_err());
    }

    #[test]
    fn a_request_is_within_what_is_held() {
        let held = Scopes::parse("system/Patient.read system/Observation.*").unwrap();
        for (asked, within) in [
            ("system/Patient.read", true),
            ("system/Patient.rs", true),
            ("system/Observation.write system/Observation.read", true),
            ("system/Patient.write", false),
            ("system/*.read", false),
            ("system/Condition.read", false),
        ] {
            assert_eq!(
                Scopes::parse(asked).unwrap().within(&held),
                within,
                "{asked}"
            );
        }
        let all = Scopes::parse("system/*.read").unwrap();
        assert!(Scopes::parse("system/Condition.read").unwrap().within(&all));
        assert!(Scopes::parse("system/*.read").unwrap().within(&all));
        assert_eq!(
            Scopes::parse("system/Patient.rs system/Observation.cud system/*.*")
                .unwrap()
                .text(),
            "system/Patient.read system/Observation.write system/*.*"
        );
    }
}
