//! A resident as a FHIR R4 Patient.
//!
//! Typed rather than built as a `serde_json::Value`: a read writes it straight to bytes
//! ([`super::FhirOne`]) — the audited Patient read is the busiest FHIR answer, and a
//! `Value` allocates each key and keeps every object in a map before a byte is
//! written — while searches, Bundles and exports take it as a `Value` ([`patient`]).
//! Every object's fields are declared in alphabetical order, the order in which a
//! `Value` writes its keys, so both give the same text (tested below).

use gongti_store::{ResidentRecord, Version};
use serde::Serialize;
use serde_json::Value;

use super::{ID_NUMBER_SYSTEM, Meta};
use crate::views::sex_code;

#[derive(Debug, Serialize)]
pub(crate) struct Patient<'a> {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<[Address<'a>; 1]>,
    #[serde(rename = "birthDate")]
    birth_date: String,
    #[serde(rename = "deceasedDateTime", skip_serializing_if = "Option::is_none")]
    deceased_date_time: Option<String>,
    gender: &'static str,
    id: String,
    identifier: [Identifier; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<[Link; 1]>,
    #[serde(rename = "managingOrganization")]
    managing_organization: Reference,
    meta: Meta,
    name: [HumanName<'a>; 1],
    #[serde(rename = "resourceType")]
    resource_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    telecom: Option<[ContactPoint; 1]>,
    /// What `meta` says, for the conditional read.
    #[serde(skip)]
    version: Version,
}

#[derive(Debug, Serialize)]
struct Address<'a> {
    text: &'a str,
    #[serde(rename = "use")]
    use_: &'static str,
}

#[derive(Debug, Serialize)]
struct ContactPoint {
    system: &'static str,
    #[serde(rename = "use")]
    use_: &'static str,
    value: String,
}

#[derive(Debug, Serialize)]
struct HumanName<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    family: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    given: Option<[&'a str; 1]>,
    text: &'a str,
    #[serde(rename = "use")]
    use_: &'static str,
}

#[derive(Debug, Serialize)]
struct Identifier {
    system: &'static str,
    #[serde(rename = "use")]
    use_: &'static str,
    value: String,
}

#[derive(Debug, Serialize)]
struct Link {
    other: Reference,
    #[serde(rename = "type")]
    type_: &'static str,
}

#[derive(Debug, Serialize)]
struct Reference {
    reference: String,
}

impl<'a> Patient<'a> {
    /// `r` as a Patient; its ID and phone numbers in full only with `identifiers`.
    pub(crate) fn of(r: &'a ResidentRecord, identifiers: bool) -> Patient<'a> {
        let parts = gongti_core::names::split_name(&r.name);
        // A resident's row keeps when it last changed: what `_lastUpdated` searches.
        let version = Version {
            number: r.version.number,
            since_us: r.updated_at_us,
        };
        Patient {
            active: r.merged_into_id.is_none(),
            address: r
                .address
                .as_deref()
                .map(|text| [Address { text, use_: "home" }]),
            birth_date: r.birth_date.to_string(),
            deceased_date_time: r.deceased_on.map(|day| day.to_string()),
            gender: sex_code(r.sex),
            id: r.id.to_string(),
            identifier: [Identifier {
                system: ID_NUMBER_SYSTEM,
                use_: "official",
                value: if identifiers {
                    r.id_number.as_str().to_owned()
                } else {
                    r.id_number.masked()
                },
            }],
            link: r.merged_into_id.map(|survivor| {
                [Link {
                    other: Reference {
                        reference: format!("Patient/{survivor}"),
                    },
                    type_: "replaced-by",
                }]
            }),
            managing_organization: Reference {
                reference: format!("Organization/{}", r.home_institution_id),
            },
            meta: Meta::of(version),
            name: [HumanName {
                family: parts.family,
                given: parts.given.map(|given| [given]),
                text: &r.name,
                use_: "official",
            }],
            resource_type: "Patient",
            telecom: r.phone.as_ref().map(|phone| {
                [ContactPoint {
                    system: "phone",
                    use_: "mobile",
                    value: if identifiers {
                        phone.as_str().to_owned()
                    } else {
                        phone.masked()
                    },
                }]
            }),
            version,
        }
    }

    /// The version its `meta` states.
    pub(crate) fn version(&self) -> Version {
        self.version
    }
}

/// `r` as a Patient `Value`, for what gathers resources (searches, Bundles, exports).
pub(crate) fn patient(r: &ResidentRecord, identifiers: bool) -> Value {
    // Strings, booleans and arrays of them always serialise: the default is not reached.
    serde_json::to_value(Patient::of(r, identifiers)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gongti_core::id_number::IdNumber;
    use gongti_core::id_number::Sex;
    use gongti_core::phone::Phone;
    use serde_json::json;
    use time::Date;
    use time::macros::date;

    fn resident() -> ResidentRecord {
        ResidentRecord {
            id: 42,
            name: "欧阳小明".into(),
            sex: Sex::Male,
            birth_date: date!(1949 - 12 - 31),
            id_number: IdNumber::parse("11010519491231002X", Date::MAX).expect("valid"),
            phone: Some(Phone::parse("13812341234").expect("valid")),
            address: Some("和平区南京路1号".into()),
            household: None,
            home_institution_id: 3,
            home_district_code: "120101".into(),
            merged_into_id: Some(43),
            deceased_on: Some(date!(2026 - 11 - 30)),
            created_at_us: 1_700_000_000_000_000,
            updated_at_us: 1_764_000_000_123_456,
            version: Version {
                number: 3,
                since_us: 1_764_000_000_123_456,
            },
        }
    }

    /// Every field present, in full and masked; and the least a resident has.
    #[test]
    fn a_resident_reads_as_the_patient_it_is() {
        let full = resident();
        let least = ResidentRecord {
            name: "Anna Li".into(),
            sex: Sex::Female,
            phone: None,
            address: None,
            merged_into_id: None,
            deceased_on: None,
            ..resident()
        };
        let meta =
            json!({"versionId": "3", "lastUpdated": crate::views::utc(1_764_000_000_123_456)});
        let whole = json!({
            "resourceType": "Patient", "id": "42", "meta": meta,
            "identifier": [{"use": "official", "system": ID_NUMBER_SYSTEM, "value": "11010519491231002X"}],
            "active": false,
            "name": [{"use": "official", "text": "欧阳小明", "family": "欧阳", "given": ["小明"]}],
            "gender": "male", "birthDate": "1949-12-31",
            "managingOrganization": {"reference": "Organization/3"},
            "telecom": [{"system": "phone", "value": "13812341234", "use": "mobile"}],
            "address": [{"use": "home", "text": "和平区南京路1号"}],
            "deceasedDateTime": "2026-11-30",
            "link": [{"other": {"reference": "Patient/43"}, "type": "replaced-by"}],
        });
        // The same with the ID and phone numbers masked.
        let mut masked = whole.clone();
        masked["identifier"][0]["value"] = "1101**********002X".into();
        masked["telecom"][0]["value"] = "138****1234".into();
        for (r, identifiers, want) in [
            (&full, true, whole),
            (&full, false, masked),
            (
                &least,
                true,
                json!({
                    "resourceType": "Patient", "id": "42", "meta": meta,
                    "identifier": [{"use": "official", "system": ID_NUMBER_SYSTEM, "value": "11010519491231002X"}],
                    "active": true,
                    "name": [{"use": "official", "text": "Anna Li"}],
                    "gender": "female", "birthDate": "1949-12-31",
                    "managingOrganization": {"reference": "Organization/3"},
                }),
            ),
        ] {
            assert_eq!(patient(r, identifiers), want, "identifiers {identifiers}");
            assert_eq!(
                Patient::of(r, identifiers).version(),
                Version {
                    number: 3,
                    since_us: 1_764_000_000_123_456
                }
            );
        }
    }

    /// The read writes the typed Patient, a search its `Value`: the same text, because
    /// each object's fields are declared in the order a `Value` writes its keys.
    #[test]
    fn a_read_and_a_search_write_the_same_text() {
        let full = resident();
        let least = ResidentRecord {
            phone: None,
            address: None,
            merged_into_id: None,
            deceased_on: None,
            ..resident()
        };
        for r in [&full, &least] {
            for identifiers in [true, false] {
                let typed = serde_json::to_string(&Patient::of(r, identifiers)).expect("typed");
                let value = serde_json::to_string(&patient(r, identifiers)).expect("value");
                assert_eq!(typed, value);
            }
        }
    }
}
