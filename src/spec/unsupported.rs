//! `unsupported:` keys: a backend, or a backend under one of its shipped mappings
//! (`splunk/cim`), which applies only when that mapping is chosen.

use super::BackendName;
use serde::de::{self, Deserialize};
use std::fmt;

/// A key of `unsupported:`: a backend, or a backend under one of its shipped mappings
/// (`splunk/cim`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Unsupported {
    pub backend: BackendName,
    /// The shipped mapping it is limited to; `None`: whatever the mapping.
    pub mapping: Option<&'static str>,
}

impl Unsupported {
    /// Does it apply in this run (the backend's chosen mapping)?
    pub fn applies(&self) -> bool {
        self.mapping
            .is_none_or(|m| crate::mappings::chosen_name(self.backend) == Some(m))
    }
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mapping {
            Some(m) => write!(f, "{}/{m}", self.backend),
            None => write!(f, "{}", self.backend),
        }
    }
}

impl<'de> Deserialize<'de> for Unsupported {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let (b, m) = match s.split_once('/') {
            Some((b, m)) => (b, Some(m)),
            None => (s.as_str(), None),
        };
        let backend = crate::backend::named(b)
            .ok_or_else(|| de::Error::unknown_variant(b, crate::backend::names()))?;
        let mapping = match m {
            None => None,
            Some(m) => Some(
                crate::mappings::SHIPPED
                    .iter()
                    .find(|s| s.backend == backend.name() && s.name == m)
                    .map(|s| s.name)
                    .ok_or_else(|| {
                        de::Error::custom(format!(
                            "`{m}` is no shipped {backend} mapping (`rmmc list mappings`)"
                        ))
                    })?,
            ),
        };
        Ok(Unsupported { backend, mapping })
    }
}
