//! The region: city → districts → institutions of each kind, and the health community
//! ties between grassroots institutions and the upper hospitals they refer to.

/// A database identity of an institution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstitutionId(pub i64);

/// The kinds of institution in a regional health community (医联体 / 医共体).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstitutionKind {
    /// 互联网医院
    InternetHospital,
    /// 三级医院
    TertiaryHospital,
    /// 二级医院
    SecondaryHospital,
    /// 社区卫生服务中心
    CommunityHealthCentre,
    /// 乡镇卫生院
    TownshipHealthCentre,
    /// 社区卫生服务站
    HealthStation,
    /// 村卫生室
    VillageClinic,
}

impl InstitutionKind {
    pub const ALL: [InstitutionKind; 7] = [
        InstitutionKind::InternetHospital,
        InstitutionKind::TertiaryHospital,
        InstitutionKind::SecondaryHospital,
        InstitutionKind::CommunityHealthCentre,
        InstitutionKind::TownshipHealthCentre,
        InstitutionKind::HealthStation,
        InstitutionKind::VillageClinic,
    ];

    /// Stable code used in storage and on the wire.
    pub fn code(self) -> &'static str {
        match self {
            InstitutionKind::InternetHospital => "internet_hospital",
            InstitutionKind::TertiaryHospital => "tertiary_hospital",
            InstitutionKind::SecondaryHospital => "secondary_hospital",
            InstitutionKind::CommunityHealthCentre => "community_health_centre",
            InstitutionKind::TownshipHealthCentre => "township_health_centre",
            InstitutionKind::HealthStation => "health_station",
            InstitutionKind::VillageClinic => "village_clinic",
        }
    }

    pub fn from_code(code: &str) -> Option<InstitutionKind> {
        InstitutionKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The glossary name in Chinese.
    pub fn name_zh(self) -> &'static str {
        match self {
            InstitutionKind::InternetHospital => "互联网医院",
            InstitutionKind::TertiaryHospital => "三级医院",
            InstitutionKind::SecondaryHospital => "二级医院",
            InstitutionKind::CommunityHealthCentre => "社区卫生服务中心",
            InstitutionKind::TownshipHealthCentre => "乡镇卫生院",
            InstitutionKind::HealthStation => "社区卫生服务站",
            InstitutionKind::VillageClinic => "村卫生室",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            InstitutionKind::InternetHospital => "Internet hospital",
            InstitutionKind::TertiaryHospital => "Tertiary hospital",
            InstitutionKind::SecondaryHospital => "Secondary hospital",
            InstitutionKind::CommunityHealthCentre => "Community health centre",
            InstitutionKind::TownshipHealthCentre => "Township health centre",
            InstitutionKind::HealthStation => "Health station",
            InstitutionKind::VillageClinic => "Village clinic",
        }
    }

    /// Grassroots (基层) institutions hold family-doctor teams and are tied to an upper
    /// hospital; the others are upper-level or online.
    pub fn is_grassroots(self) -> bool {
        matches!(
            self,
            InstitutionKind::CommunityHealthCentre
                | InstitutionKind::TownshipHealthCentre
                | InstitutionKind::HealthStation
                | InstitutionKind::VillageClinic
        )
    }

    pub fn is_upper_hospital(self) -> bool {
        matches!(
            self,
            InstitutionKind::TertiaryHospital | InstitutionKind::SecondaryHospital
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionError {
    #[error("a district code is 6 digits, e.g. 120101")]
    BadDistrictCode,
    #[error("only a grassroots institution can be tied to an upper hospital")]
    TieFromNonGrassroots,
    #[error("a grassroots institution can only be tied to a secondary or tertiary hospital")]
    TieToNonUpper,
}

/// A 6-digit administrative division code (GB/T 2260) of a district, e.g. `120101`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DistrictCode(String);

impl DistrictCode {
    pub fn parse(input: &str) -> Result<DistrictCode, RegionError> {
        if input.len() == 6 && input.bytes().all(|b| b.is_ascii_digit()) {
            Ok(DistrictCode(input.to_owned()))
        } else {
            Err(RegionError::BadDistrictCode)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a health-community tie (医联体 membership): a grassroots institution is tied
/// to the upper hospital it refers patients to.
pub fn check_tie(grassroots: InstitutionKind, upper: InstitutionKind) -> Result<(), RegionError> {
    if !grassroots.is_grassroots() {
        return Err(RegionError::TieFromNonGrassroots);
    }
    if !upper.is_upper_hospital() {
        return Err(RegionError::TieToNonUpper);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_codes_round_trip() {
        for kind in InstitutionKind::ALL {
            assert_eq!(InstitutionKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(InstitutionKind::from_code("clinic"), None);
    }

    #[test]
    fn health_community_ties() {
        use InstitutionKind::*;
        let cases = [
            (CommunityHealthCentre, TertiaryHospital, Ok(())),
            (VillageClinic, SecondaryHospital, Ok(())),
            (
                TertiaryHospital,
                TertiaryHospital,
                Err(RegionError::TieFromNonGrassroots),
            ),
            (
                HealthStation,
                InternetHospital,
                Err(RegionError::TieToNonUpper),
            ),
            (
                HealthStation,
                TownshipHealthCentre,
                Err(RegionError::TieToNonUpper),
            ),
        ];
        for (from, to, expected) in cases {
            assert_eq!(check_tie(from, to), expected, "{from:?} → {to:?}");
        }
    }

    #[test]
    fn district_codes() {
        assert!(DistrictCode::parse("120101").is_ok());
        assert!(DistrictCode::parse("12010").is_err());
        assert!(DistrictCode::parse("12010a").is_err());
    }
}
