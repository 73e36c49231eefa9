//! Payment and performance (DOMAIN.md §5–§6, issue 17): capitation under a total
//! budget settled as "surplus retained, overspend not compensated" (`capitation`), and
//! the incentive pool shared by workload and quality (`incentive`). Pure arithmetic on
//! exact decimals (`crate::decimal`), money in integer fen rounded half up once.

pub mod capitation;
pub mod costs;
pub mod incentive;
pub mod membership;
pub mod quality;
pub mod scheme;
